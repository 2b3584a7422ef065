"""Pods: every pod running and ready, every workload at its replicas (docs/pods.md)."""

from opschecks.areas.area import Area
from opschecks.areas.pods.codes import CODES
from opschecks.areas.pods.settings import PodSettings

AREA = Area("pods", PodSettings, CODES)
