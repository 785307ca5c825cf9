"""Every shipped context of extensions_cti.conf that the layer sends a value into matches the shortest and
the longest value the layer produces, on a real Asterisk 22 (issue 13, failure 1: ``_X.`` needs two
characters, so follow-up ids 1 to 9 were answered "There is no existence of 1@cti-followup").

What the layer sends where (cti/outbound/part.py, cti/calls, ivr_flows): a citizen's number into
[cti-outbound] (digits, a leading + allowed: cti/outbound/api.py NUMBER), a follow-up id (1, 2, ...) into
[cti-followup], a hotline number of config/hotlines.yaml into [departments] and [cti-transfer], a
direct-merged hotline number into [cti-merged].
"""

from __future__ import annotations

import pytest

from cti.hotlines import load_directory
from real_asterisk.switch import ROOT, until

DIRECTORY = load_directory(ROOT / "config" / "hotlines.yaml")
HOTLINES = sorted((h.number for h in DIRECTORY), key=len)
MERGED = sorted((h.number for h in DIRECTORY.of_kind("direct-merged")), key=len)
NOT_FOUND = ("There is no existence of", "does not exist", "No such extension")


def cases() -> list[tuple[str, str]]:
    """(context, value): the shortest and the longest value of each kind."""
    return [("cti-outbound", "7"), ("cti-outbound", "13912345678"), ("cti-outbound", "+8613912345678"),
            ("cti-followup", "1"), ("cti-followup", "987654321"),
            ("departments", HOTLINES[0]), ("departments", HOTLINES[-1]),
            ("cti-transfer", HOTLINES[0]), ("cti-transfer", HOTLINES[-1]),
            ("cti-merged", MERGED[0]), ("cti-merged", MERGED[-1])]


def originate(context: str, value: str) -> dict[str, str]:
    """The Originate the layer would send for ``value`` in ``context`` (parties are the suite's phones)."""
    base = {"Action": "Originate", "Async": "true", "Timeout": 20000, "CallerID": '"12345" <12345>'}
    wait = {"Application": "Wait", "Data": "1"}
    if context == "cti-outbound":
        return base | wait | {"Channel": f"Local/{value}@cti-outbound",
                              "Variable": f"__CTI_TRUNK_DIAL=Local/{value}@test-citizen,__CTI_RING_TIMEOUT=10"}
    if context == "cti-followup":   # as cti/outbound/part.py: the id is the Exten of the answered ;1 half
        # (the citizen's phone dialled directly: this case is about [cti-followup] alone)
        return base | {"Channel": "Local/13900000001@test-citizen", "Context": "cti-followup", "Exten": value,
                       "Priority": 1}
    if context in ("departments", "cti-transfer"):
        return base | wait | {"Channel": f"Local/{value}@{context}",
                              "Variable": f"__CTI_DEPT_DIAL=Local/{value}@test-dept,__CTI_DEPT_TIMEOUT=10"}
    return base | wait | {"Channel": f"Local/{value}@{context}"}


@pytest.mark.parametrize("context,value", cases())
async def test_given_a_value_the_layer_sends_when_originated_into_the_shipped_context_then_asterisk_runs_it(
        switch, context, value):
    switch.citizen("13900000001" if context == "cti-followup" else value, ring=0.2)
    switch.department(value, ring=0.2, talk=5)
    observer = await switch.observe()
    try:
        resp = dict(await observer.action(originate(context, value)))
        assert resp.get("Response") == "Success", resp
        await switch.wait_event("Newexten", 20, Context=context, Exten=value)
        if context == "cti-outbound":   # the trunk dial string came from the Originate's variable
            await switch.wait_event("Newexten", 20, Context="test-citizen", Exten=value)
        if context == "cti-transfer":
            await switch.wait_event("Newexten", 20, Context="departments", Exten=value)
        if context == "departments":
            await switch.wait_event("Newexten", 20, Context="test-dept", Exten=value)
        await until(lambda: switch.events("OriginateResponse"), 30, "Asterisk's OriginateResponse",
                    lambda: [e["Event"] for e in switch.events()][-10:])
    finally:
        await observer.close()
    refused = [line for line in switch.log_text().splitlines() if any(n in line for n in NOT_FOUND)]
    assert refused == [], refused


async def test_given_an_ivr_transfer_without_dial_string_when_it_reaches_cti_transfer_then_hotlines_yaml_says_how(
        switch, tmp_path):
    """An IVR flow's transfer node sets only CTI_DIAL (ivr_flows/engine.py): [cti-transfer] asks the layer's
    AGI ``department`` for the hotline's dial string of hotlines.yaml (the suite's: Local/{number}@test-dept),
    where it used to fall back to a PJSIP endpoint written in the snippet."""
    from real_asterisk.conftest import layer_settings, running_layer

    switch.department("12315", ring=0.5, talk=5)
    async with running_layer(switch, layer_settings(switch, tmp_path)):
        resp = dict(await switch.observer.action({
            "Action": "Originate", "Async": "true", "Timeout": 20000, "Channel": "Local/12315@cti-transfer",
            "Application": "Wait", "Data": "1", "Variable": "CTI_DIAL=12315"}))
        assert resp.get("Response") == "Success", resp
        await switch.wait_event("Newexten", 20, Context="test-dept", Exten="12315")
    assert "No channel type registered" not in switch.log_text()


async def test_given_no_dial_string_when_departments_is_dialled_then_it_fails_as_unreachable_and_says_why(switch):
    """Without CTI_DEPT_DIAL [departments] guesses no endpoint: it logs why and hangs up with cause 66, which
    [cti-transfer] and the test dial read as unreachable."""
    observer = await switch.observe()
    try:
        resp = dict(await observer.action({
            "Action": "Originate", "Async": "true", "Timeout": 10000, "Channel": "Local/12315@departments",
            "Application": "Wait", "Data": "1"}))
        assert resp.get("Response") == "Success", resp
        hangup = await switch.wait_event("Hangup", 20, Context="departments", Exten="12315")
    finally:
        await observer.close()
    assert hangup.get("Cause") == "66", hangup
    log = switch.log_text()
    assert "CTI department 12315: CTI_DEPT_DIAL is not set" in log
    assert "No channel type registered" not in log   # nothing was dialled on a guessed endpoint
