"""What a run leaves: the ledger, the comparison with earlier runs, tasks due, the report and every machine output (docs/ledger.md, docs/outputs.md)."""
