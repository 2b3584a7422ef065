"""Cluster: nodes, the database's volumes, the control plane's support, node CPU over the month (docs/cluster.md)."""

from opschecks.areas.area import Area
from opschecks.areas.cluster.codes import CODES
from opschecks.areas.cluster.settings import ClusterSettings

AREA = Area("cluster", ClusterSettings, CODES)
