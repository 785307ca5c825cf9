"""Settings of the outbound part (section ``outbound`` of config/cti.yaml)."""

from __future__ import annotations

from pydantic import Field, field_validator

from cti.calendar import parse_hours
from cti.settings_base import Section, TimeZone


class OutboundSettings(Section):
    database_url: str = "sqlite+aiosqlite:///var/outbound.db"   # campaign state, do-not-call list, counts
    timezone: TimeZone = "Asia/Shanghai"
    tick: float = Field(1.0, gt=0)                  # seconds between two scheduler rounds
    caller_id: str = "12345"                         # what the citizen's phone shows
    action_timeout: float = Field(10.0, gt=0)
    # 110 linkage (应急联动)
    linkage_did: str = "12345110"                    # DID on which 110 hands calls over to 12345
    linkage_queue: str = "linkage110"                # the dedicated queue of queues_cti.conf
    linkage_tag: str = "110分流"
    linkage_numbers: list[str] = ["110"]             # an agent's emergency transfer to these counts as 12345->110
    # test dialing (拨测)
    test_dial_enabled: bool = False                  # places real calls to departments: off until enabled
    test_dial_numbers: list[str] = []                # empty: every parallel-merged hotline of hotlines.yaml
    test_dial_interval: float = Field(3600.0, gt=0)  # seconds between two rounds
    test_dial_context: str = "departments"           # Local/<number>@<context> of extensions_cti.conf
    test_dial_ring_timeout: float = Field(30.0, gt=0)  # give up ringing after this many seconds
    test_dial_service_level: float = Field(15.0, gt=0)  # the department's answer target
    test_dial_alert_after: int = Field(2, ge=1)      # consecutive failures that raise an alert
    test_dial_alert_ticket: bool = True              # the alert also goes to the ticket backend
    alert_request_type: str = "help"                 # request type of that alert ticket
    # follow-up calls (回访)
    followup_enabled: bool = True
    followup_hours: list[str] = ["09:00-20:00"]      # local spans in which citizens may be called, any day
    followup_delay: float = Field(0.0, ge=0)         # seconds from the ticket's close to the first attempt
    citizen_context: str = "cti-outbound"            # Local/<number>@<context> dials the citizen
    # How [cti-outbound] reaches the citizen: an Asterisk dial string, {number} replaced by the citizen's
    # number, passed on the Originate as __CTI_TRUNK_DIAL (the site's trunk lives here, not in the snippet)
    trunk_dial: str = "PJSIP/{number}@pstn-trunk"
    followup_context: str = "cti-followup"           # the answered call runs AGI(.../followup) there
    ring_timeout: float = Field(30.0, gt=0)          # seconds the citizen's phone may ring
    max_attempts: int = Field(3, ge=1)
    retry_spacing: float = Field(1800.0, ge=0)       # seconds between two attempts after no answer / busy
    calls_per_minute: int = Field(10, ge=1)
    max_channels: int = Field(5, ge=1)               # concurrent outbound follow-up channels
    inbound_queues: list[str] = ["public", "enterprise", "talent", "supervision", "linkage110"]
    backoff_waiting: int = Field(1, ge=1)            # hold follow-ups while this many inbound callers wait
    do_not_call: list[str] = []                      # numbers never called (added to the stored list)
    dissatisfied_request_type: str = "complaint"     # request type of the follow-up ticket on "dissatisfied"
    answer_request_type: str = "consultation"        # request type of the ticket carrying other answers
    followup_queue: str = "public"                   # "dissatisfied" goes to an agent here when one is free
    followup_queue_timeout: int = Field(120, ge=1)   # seconds the citizen may wait there for that agent

    @field_validator("trunk_dial")
    @classmethod
    def _trunk_dial(cls, value: str) -> str:
        # the same rule as a hotline's dial (cti/hotlines.py): TECH/resource, only {number} substituted,
        # no comma (it would split the Originate's Variable list and Dial()'s arguments)
        try:
            dial = value.format(number="0")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"{value!r}: only {{number}} may be substituted ({exc})") from None
        if "{number}" not in value or "/" not in dial or any(c in dial for c in ",\r\n|&"):
            raise ValueError(f"{value!r} is not an Asterisk dial string with {{number}} (TECH/resource, no commas)")
        return value

    @field_validator("followup_hours")
    @classmethod
    def _hours(cls, value: list[str]) -> list[str]:
        parse_hours(value)
        return value
