"""The restore area's finding codes: severity and what to do first (docs/codes.md, docs/restore.md)."""

from opschecks.code import codes

CODES = codes([
    ("RST001", "critical", "a configured collection is missing after the restore",
     "Open the backup: is the collection in the dump? If not, the backup job skipped it."),
    ("RST002", "critical", "a collection holds fewer documents than its minimum",
     "Compare with the live database's count: a partial dump or a wrong database."),
    ("RST003", "critical", "a collection lost more than max_drop_fraction since the last passed drill",
     "Ingest data only grows: find which backup lost the documents and why."),
    ("RST004", "warning", "nothing to drill",
     "Check the backups exist (BKP001) or pass --restore-key with one of the env's keys."),
    ("RST010", "critical", "the backup is truncated or corrupt",
     "Re-run the backup job and check its upload; the message names the byte offset."),
    ("RST011", "critical", "the backup holds an unsafe member or expands beyond max_expansion_ratio",
     "Treat the backup as hostile: find who wrote it; never extract it by hand."),
    ("RST012", "critical", "the dump inside cannot be restored",
     "Read the message: invalid BSON, no dump or several dumps, a refused document; fix the backup job."),
    ("RST013", "critical", "a collection holds a different number of documents on the server than in the dump",
     "The restore lost documents: re-run the drill; if it repeats, the target refuses some documents."),
    ("RST014", "warning", "part of the dump could not be restored on this target",
     "Check whether the part named matters (users/roles, time-series); restore it on a full MongoDB if so."),
    ("RST015", "critical", "the dump directory's stamp or its oplog's start is far from the key's",
     "The backup holds another day's dump: check the backup job's dump path and clean-up."),
    ("RST016", "critical", "the backup lacks documents the live database held when the dump started",
     "Compare the backup job's mongodump (a --query, an interrupted dump, a stepped-down primary) with the database."),
    ("RST017", "critical", "sampled live documents older than the dump are not in the backup",
     "A loss hidden by deletions: the ids named are the place to start; check the dump of that collection."),
    ("RST018", "critical", "the backup is stale: it lacks the live documents of the hours before the dump",
     "mongodump read a lagging secondary, a stale volume or another database: check its --host and its source."),
    ("RST019", "warning", "the live database did not answer the completeness check",
     "Check live_uri, its read-only user and the network path; the restore itself was judged."),
])
