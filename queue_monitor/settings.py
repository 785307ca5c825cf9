"""Settings section `monitor:` (owned by the queue monitor package)."""

from pydantic import Field

from cti.settings_base import Section


class MonitorSettings(Section):
    summary_interval: float = Field(5.0, gt=0)
    service_level_seconds: float = Field(15.0, gt=0)
