"""Cluster: nodes, the database's volumes, the control plane's support, node CPU over the month (docs/cluster.md)."""
