"""Restore drill: a backup downloaded, read strictly, restored into a throwaway MongoDB, its counts judged (docs/restore.md)."""
