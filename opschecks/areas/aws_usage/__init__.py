"""AWS usage: bucket growth, allocated-but-unused resources and their clean-up, the month's bill (docs/aws_usage.md)."""
