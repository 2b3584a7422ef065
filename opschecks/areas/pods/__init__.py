"""Pods: every pod running and ready, every workload at its replicas (docs/pods.md)."""
