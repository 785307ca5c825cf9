"""Settings section `tickets:` (owned by the tickets package)."""

from cti.settings_base import Section


class TicketsSettings(Section):
    pass
