"""Success rules (成功标准): which event, with which properties, within what window counts as a response."""
