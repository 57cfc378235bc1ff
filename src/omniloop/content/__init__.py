"""Message content (消息模板): versioned per-channel templates, sandboxed rendering and content checks."""
