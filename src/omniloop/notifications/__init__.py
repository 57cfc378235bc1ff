"""The in-console notification centre (站内通知)."""
