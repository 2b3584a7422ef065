"""Restore drill: a backup downloaded, read strictly, restored into a throwaway MongoDB, its counts judged (docs/restore.md)."""

from opschecks.areas.area import Area
from opschecks.areas.restore.codes import CODES
from opschecks.areas.restore.settings import RestoreSettings

AREA = Area("restore", RestoreSettings, CODES)
