"""The IVR on a real Asterisk 22: each key of the shipped flows reaches its queue with CTI_RESULT=ok."""

from __future__ import annotations

import pytest

from real_asterisk.switch import until


def ivr_outcome(switch, caller_channel_uid: str) -> dict[str, str]:
    """The dialplan variables the IVR left on the citizen's channel (VarSet, seen unfiltered)."""
    out = {}
    for e in switch.events("VarSet", Uniqueid=caller_channel_uid):
        out[e.get("Variable", "").lstrip("_")] = e.get("Value", "")
    return out


async def queued(switch, caller: str, timeout: float = 60.0) -> dict[str, str]:
    """The QueueCallerJoin of the citizen calling from ``caller``."""
    await until(lambda: switch.caller_events(caller, "QueueCallerJoin"), timeout, f"caller {caller} to join a queue",
                lambda: [(e["Event"], e.get("Queue", "")) for e in switch.events() if e["Event"].startswith("Queue")])
    return switch.caller_events(caller, "QueueCallerJoin")[0]


@pytest.mark.parametrize("keys, queue, tags", [
    ("1", "public", ""),
    ("9", "supervision", ""),
    ("none", "public", ""),           # a caller who presses nothing still reaches an agent
    ("7ww1", "public", ""),           # an invalid key, the re-prompt, then a valid one
    ("2", "enterprise", "企业"),       # key 2 alone: the 一企来 menu re-prompts, then its queue
    ("2wwww1wwww1", "enterprise", "企业,政策咨询,税务"),   # 一企来 -> policy -> tax
])
async def test_given_the_shipped_flows_when_a_caller_presses_a_key_then_the_ivr_routes_with_result_ok(
        switch, layer, keys, queue, tags):
    caller = await switch.call(keys="" if keys == "none" else keys, key_delay=1.5)
    join = await queued(switch, caller)
    assert join["Queue"] == queue
    outcome = ivr_outcome(switch, join["Uniqueid"])
    assert outcome.get("CTI_RESULT") == "ok", outcome
    assert set(filter(None, tags.split(","))) <= set(outcome.get("CTI_TAGS", "").split(",")), outcome
    assert "CTI IVR failed" not in switch.log_text()
