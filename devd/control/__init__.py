"""The control channel: a Unix socket in `.devd/` through which commands reach a running daemon."""
