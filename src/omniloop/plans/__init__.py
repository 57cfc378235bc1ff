"""Campaign needs and plans (活动方案管理): CRUD, versions, documents, full-text search."""
