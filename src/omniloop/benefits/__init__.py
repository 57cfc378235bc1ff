"""Benefits (权益): the catalog with inventory and budget, and per-customer grants."""
