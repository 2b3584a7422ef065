"""Pods: every pod running and ready, every workload at its replicas (docs/pods.md)."""

from opschecks.areas.area import Area
from opschecks.areas.pods.codes import CODES

AREA = Area("pods", CODES)
