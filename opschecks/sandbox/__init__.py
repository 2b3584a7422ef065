"""The local sandbox stack: loopback servers seeded with realistic data."""
