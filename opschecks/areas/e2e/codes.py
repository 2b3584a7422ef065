"""The e2e area's finding codes: severity and what to do first (docs/codes.md, docs/e2e.md)."""

from opschecks.code import codes

CODES = codes([
    ("E2E001", "critical", "an endpoint did not answer or answered an error",
     "Check the service's pods (POD codes) and its ingress for the host named."),
    ("E2E002", "warning", "an endpoint answered slower than latency_budget_ms",
     "Look at the service's load and the database's latency."),
    ("E2E003", "critical", "a certificate is not trusted, does not match the host, or has expired",
     "Renew or fix the certificate for the host named."),
    ("E2E004", "warning", "a served certificate expires soon",
     "Renew it before the date named."),
    ("E2E005", "critical", "the API's root, listing or health is not the expected shape",
     "A different service answers at that URL, or the API changed."),
    ("E2E006", "critical", "the API lists fewer submissions than expected",
     "The service may run against an empty or wrong database: check before anything else."),
    ("E2E007", "critical", "an endpoint redirects off the service's own hosts",
     "Check the ingress and the service's configuration for the host named."),
    ("E2E010", "warning", "the round trip was refused: the target is protected",
     "Run it against dev or staging, or declare the env's protection correctly."),
    ("E2E011", "critical", "the test submission could not be created",
     "Check the API's credentials and the upload service."),
    ("E2E012", "critical", "the test submission did not become valid in time",
     "Look at the validator's and the broker's logs."),
    ("E2E013", "critical", "the test submission lacks entities it should have",
     "The API or the importer dropped them: compare with the spreadsheet sent."),
    ("E2E014", "warning", "the test submission could not be deleted",
     "Delete it by hand at the URL named."),
])
