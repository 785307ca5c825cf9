"""Settings section `flows:` (owned by the IVR flow package)."""

from cti.settings_base import Section


class FlowsSettings(Section):
    pass
