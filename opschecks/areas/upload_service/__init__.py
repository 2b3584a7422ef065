"""The sprint drill: the legacy upload service stood up and torn down, leaving nothing behind (docs/upload_service.md)."""
