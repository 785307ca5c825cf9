"""The stats engine fed the Asterisk 22 recordings: figures a person computes by hand, and Asterisk's own
ServicelevelPerf / ServicelevelPerf2 reproduced by the matching presets."""

from __future__ import annotations

import pytest
from ami_replay import SCENARIOS, event_frames, load

from cti.ami.message import AmiMessage, parse_frame
from queue_monitor.engine import EngineConfig, QueueEngine
from queue_monitor.figures import Definitions


def events(name: str) -> list[AmiMessage]:
    return [parse_frame(f) for f in event_frames(load(name))]


def queue_params(name: str) -> dict[str, AmiMessage]:
    """Asterisk's QueueParams at the end of a recording (the answer to its QueueStatus action)."""
    frames = [parse_frame(f) for f in load(name).replies["QueueStatus"]]
    return {m["Queue"]: m for m in frames if m.name == "QueueParams"}


def run(defs: Definitions | None = None, scenarios=SCENARIOS) -> tuple[QueueEngine, list]:
    engine = QueueEngine(EngineConfig(definitions=defs or Definitions()))
    rows = []
    for name in scenarios:
        for ev in events(name):
            rows += engine.on_event(ev)
    return engine, rows


def test_hand_computed_figures_of_the_recordings():
    engine, rows = run()
    snap = engine.snapshot()
    pub = snap["queues"]["public"]["windows"]["today"]
    ent = snap["queues"]["enterprise"]["windows"]["today"]
    centre = snap["centre"]["windows"]["today"]
    # public: answered-within-sl waits 697.589048 - 694.584391 = 3.004657 s,
    #         answered-after-sl  740.987169 - 723.971633 = 17.015536 s (over 15 and 10),
    #         three-way-transfer 788.158974 - 786.157465 = 2.001509 s,
    #         abandon-in-queue hangs up after 754.523758 - 751.019665 = 3.504093 s (< 5 s: short).
    assert (pub["offered"], pub["answered"], pub["answered_15s"], pub["answered_10s"]) == (4, 3, 2, 2)
    assert (pub["abandoned"], pub["short_abandoned"], pub["timed_out"]) == (1, 1, 0)
    # default denominator offered - short abandons = 4 - 1 = 3: 2 / 3
    assert pub["answer_rate_15s"] == pytest.approx(2 / 3)
    assert pub["answer_rate_10s"] == pytest.approx(2 / 3)
    # ASA (3.004657 + 17.015536 + 2.001509) / 3 = 22.021702 / 3
    assert pub["average_wait"] == pytest.approx(22.021702 / 3, abs=1e-6)
    # talk: AgentComplete 703.095444 - 697.589048 = 5.506396; 744.490850 - 740.987169 = 3.503681;
    # three-way: the agent's channel hangs up at 799.779968 - 788.158974 = 11.620994 (no AgentComplete)
    assert pub["average_talk"] == pytest.approx((5.506396 + 3.503681 + 11.620994) / 3, abs=1e-6)
    assert pub["longest_talk"] == pytest.approx(11.620994, abs=1e-6)
    # enterprise: key2 answered after 713.634693 - 711.631495 = 2.003198 s, talk 718.140173 - 713.634693
    # = 4.505480 s; queue-timeout left after 770.075257 - 762.065905 = 8.009352 s: a TIMEOUT, not an abandon.
    assert (ent["offered"], ent["answered"], ent["answered_15s"], ent["abandoned"], ent["timed_out"]) == (2, 1, 1, 0, 1)
    assert ent["answer_rate_15s"] == pytest.approx(1 / 2)         # 1 / (2 - 0)
    assert ent["average_wait"] == pytest.approx(2.003198, abs=1e-6)
    assert ent["average_talk"] == pytest.approx(4.505480, abs=1e-6)
    # centre: six calls, each counted once: 4 answered (3 within 15 s), 1 abandon (short), 1 timeout.
    assert (centre["offered"], centre["answered"], centre["answered_15s"]) == (6, 4, 3)
    assert (centre["abandoned"], centre["short_abandoned"], centre["timed_out"]) == (1, 1, 1)
    assert centre["answer_rate_15s"] == pytest.approx(3 / 5)      # 3 / (6 - 1)
    assert centre["average_wait"] == pytest.approx((22.021702 + 2.003198) / 4, abs=1e-6)
    # the recordings span two minutes: the 15-minute and 1-hour windows hold the same calls
    for window in ("15m", "1h", "total"):
        assert snap["centre"]["windows"][window]["offered"] == 6
    # nobody waits at the end; the three-way citizen talks to the department, not to an agent
    assert snap["centre"]["waiting"] == 0 and snap["centre"]["talking"] == 0
    assert snap["queues"]["public"]["agents"]["logged_in"] == 2
    assert snap["queues"]["public"]["agents"]["available"] == 2
    # one row per queue stay, with its outcome
    assert sorted((r.queue, r.outcome) for r in rows) == [
        ("enterprise", "answered"), ("enterprise", "timeout"),
        ("public", "abandoned"), ("public", "answered"), ("public", "answered"), ("public", "answered")]


@pytest.mark.parametrize("rounding", ["exact", "asterisk"])
def test_presets_equal_asterisks_servicelevel_perf_after_every_recording(rounding):
    engine = QueueEngine(EngineConfig(definitions=Definitions(denominator="answered", rounding=rounding)))
    sl2 = QueueEngine(EngineConfig(definitions=Definitions(denominator="asterisk_sl2", rounding=rounding)))
    checked = 0
    for name in SCENARIOS:
        for ev in events(name):
            engine.on_event(ev)
            sl2.on_event(ev)
        snap, snap2 = engine.snapshot(), sl2.snapshot()
        for queue, params in queue_params(name).items():
            total = snap["queues"].get(queue, {}).get("windows", {}).get("total")
            if not total or not total["answered"]:
                continue
            assert total["answered"] == int(params["Completed"])
            assert round(100 * total["answer_rate_15s"], 1) == float(params["ServicelevelPerf"]), (name, queue)
            rate2 = snap2["queues"][queue]["windows"]["total"]["answer_rate_15s"]
            assert round(100 * rate2, 1) == float(params["ServicelevelPerf2"]), (name, queue)
            checked += 1
    assert checked >= 10


def test_timeout_told_apart_by_the_queueresult_userevent_alone():
    # A dialplan whose QUEUESTATUS VarSet is filtered out still raises UserEvent(QueueResult).
    engine = QueueEngine()
    for ev in events("queue-timeout"):
        if ev.name == "VarSet" and ev.get("Variable") == "QUEUESTATUS":
            continue
        if ev.name == "QueueCallerLeave":
            engine.on_event(ev)
            ev = AmiMessage.of(Event="UserEvent", UserEvent="QueueResult", Queue="enterprise",
                               QueueStatus="TIMEOUT", Uniqueid=ev["Uniqueid"], Timestamp=ev["Timestamp"])
        engine.on_event(ev)
    fig = engine.snapshot()["queues"]["enterprise"]["windows"]["today"]
    assert (fig["timed_out"], fig["abandoned"]) == (1, 0)


def test_rounding_rule_changes_a_15_9_second_wait():
    # join at 201.10, answer at 216.90: exact 15.8 s > 15 (missed); Asterisk's clock 216 - 201 = 15 (met)
    def feed(rounding):
        e = QueueEngine(EngineConfig(definitions=Definitions(rounding=rounding)))
        e.on_event(AmiMessage.of(Event="QueueCallerJoin", Timestamp="1795339201.10", Uniqueid="u1",
                                 Linkedid="u1", Queue="public"))
        e.on_event(AmiMessage.of(Event="AgentConnect", Timestamp="1795339216.90", Uniqueid="u1",
                                 Linkedid="u1", Queue="public", Interface="Local/6001@agents/n"))
        return e.snapshot()["queues"]["public"]["windows"]["today"]["answered_15s"]
    assert feed("exact") == 0
    assert feed("asterisk") == 1


def test_a_call_moving_between_queues_counts_once_for_the_centre():
    e = QueueEngine()
    ev = AmiMessage.of
    e.on_event(ev(Event="QueueCallerJoin", Timestamp="1795339200.0", Uniqueid="c1", Linkedid="c0", Queue="public"))
    e.on_event(ev(Event="QueueCallerAbandon", Timestamp="1795339230.0", Uniqueid="c1", Linkedid="c0", Queue="public"))
    e.on_event(ev(Event="QueueCallerLeave", Timestamp="1795339230.0", Uniqueid="c1", Linkedid="c0", Queue="public"))
    e.on_event(ev(Event="VarSet", Timestamp="1795339230.0", Uniqueid="c1", Linkedid="c0",
                  Variable="QUEUESTATUS", Value="TIMEOUT"))
    e.on_event(ev(Event="QueueCallerJoin", Timestamp="1795339231.0", Uniqueid="c1", Linkedid="c0", Queue="enterprise"))
    e.on_event(ev(Event="QueueCallerLeave", Timestamp="1795339236.0", Uniqueid="c1", Linkedid="c0", Queue="enterprise"))
    e.on_event(ev(Event="AgentConnect", Timestamp="1795339236.0", Uniqueid="c1", Linkedid="c0", Queue="enterprise",
                  Interface="Local/6101@agents/n", DestUniqueid="a1"))
    e.on_event(ev(Event="Hangup", Timestamp="1795339300.0", Uniqueid="c1", Linkedid="c0"))
    snap = e.snapshot()
    assert snap["queues"]["public"]["windows"]["today"]["timed_out"] == 1
    assert snap["queues"]["enterprise"]["windows"]["today"]["answered"] == 1
    centre = snap["centre"]["windows"]["today"]
    # once, answered, after 36 s from the first join (not the 5 s of the second queue)
    assert (centre["offered"], centre["answered"], centre["timed_out"]) == (1, 1, 0)
    assert centre["average_wait"] == pytest.approx(36.0)
    assert centre["average_talk"] == pytest.approx(64.0)
