"""AWS usage: bucket growth, allocated-but-unused resources and their clean-up, the month's bill (docs/aws_usage.md)."""

from opschecks.areas.area import Area
from opschecks.areas.aws_usage.codes import CODES
from opschecks.areas.aws_usage.settings import UsageSettings

AREA = Area("aws_usage", UsageSettings, CODES, old_table="usage")
