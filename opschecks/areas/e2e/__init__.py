"""End to end: the Ingest UI, broker and API answer; a test submission round trip (docs/e2e.md)."""
