"""The shipped flows walked by the simulator's callers over real FastAGI (keys, silence, hang-ups,
the enterprise sub-menus, after hours, make-up days, holidays, merged hotlines, the survey)."""

from __future__ import annotations

import asyncio
import shutil

from ivr_rig import (
    FLOWS,
    MAKEUP_SATURDAY,
    NATIONAL_DAY,
    OVERRIDE_2027_HOLIDAY,
    SUNDAY,
    WEEKDAY_NIGHT,
    rig,
)

from cti.messages import Rating

# The caller's side of the main menu: the welcome (barge-in allowed), then the menu prompt.
MENU = [("prompt",), ("prompt",), ("wait", 0.5)]


def keys_at_menus(*keys: str) -> list[tuple]:
    """Listen to the welcome, then press one key per menu (each menu starts a new prompt)."""
    steps: list[tuple] = [("prompt",)]
    for key in keys:
        steps += [("prompt",), ("wait", 0.5), ("dtmf", key)]
    return steps


def path_nodes(record) -> list[str]:
    return [f"{s.flow}/{s.node}" for s in record.path]


async def test_key_1_public_line_with_survey_and_channel_variables():
    async with rig() as r:
        caller = r.call(MENU + [("dtmf", "1")])
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert rec.outcome == "queue" and rec.queue == "public" and rec.keys == "1"
        assert rec.tags == ("群众诉求",)
        assert rec.version == r.store.current.version and rec.hotline == "12345"
        assert path_nodes(rec) == ["main/hotline", "main/hours", "main/welcome", "main/menu", "main/public"]
        chan = r.channel_vars(caller)
        assert chan["CTIQUEUE"] == "public" and chan["CTI_RESULT"] == "ok"
        assert chan["__CTI_TAGS"] == "群众诉求" and chan["CTI_SURVEY"] == "yes"
        assert chan["__CTI_HOTLINE"] == "12345" and chan["__CTI_IVR_VERSION"] == rec.version


async def test_key_2_pressed_during_the_welcome_skips_it_then_tax_policy():
    async with rig() as r:
        # Key 2 at 0.3 s into the 3 s welcome (barge-in), then 1 (policy) and 1 (tax).
        caller = r.call([("prompt",), ("wait", 0.3), ("dtmf", "2"),
                         ("prompt",), ("prompt",), ("wait", 0.5), ("dtmf", "1"),
                         ("prompt",), ("wait", 0.5), ("dtmf", "1")])
        assert await caller.wait_queued() == "enterprise"
        rec = r.record_of(caller)
        assert rec.path[2].node == "welcome" and rec.path[2].event == "barge-in 2"
        assert rec.path[3].node == "menu" and rec.path[3].event == "key 2"
        assert rec.tags == ("企业", "政策咨询", "税务") and rec.keys == "2,1,1"
        assert r.channel_vars(caller)["__CTI_TAGS"] == "企业,政策咨询,税务"


async def test_enterprise_policy_domains_each_reach_the_enterprise_queue_with_their_tag():
    async with rig() as r:
        callers = {key: r.call(keys_at_menus("2", "1", key), caller=f"1380000010{key}")
                   for key in ("2", "3", "4", "0")}
        for caller in callers.values():
            assert await caller.wait_queued() == "enterprise"
        tags = {key: r.record_of(c).tags for key, c in callers.items()}
        assert tags == {"2": ("企业", "政策咨询", "社保"), "3": ("企业", "政策咨询", "市场监管"),
                        "4": ("企业", "政策咨询", "审批许可"), "0": ("企业", "政策咨询")}


async def test_enterprise_complaint_has_priority_and_the_complaint_tag():
    async with rig() as r:
        caller = r.call(keys_at_menus("2", "2"))
        assert await caller.wait_queued() == "enterprise"
        rec = r.record_of(caller)
        assert rec.priority == 5 and rec.tags == ("企业", "营商环境投诉")
        assert r.channel_vars(caller)["QUEUE_PRIO"] == "5"


async def test_enterprise_back_to_main_menu_keeps_the_enterprise_tag():
    async with rig() as r:
        caller = r.call(keys_at_menus("2", "0", "1"))
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert "yiqilai/back" in path_nodes(rec) and rec.tags == ("企业", "群众诉求")


async def test_enterprise_menus_without_a_key_still_reach_an_agent():
    async with rig() as r:
        silent_menu = r.call(keys_at_menus("2"))            # nothing at the yiqilai menu
        silent_policy = r.call(keys_at_menus("2", "1"), caller="13800000002")   # nothing at the policy menu
        assert await silent_menu.wait_queued() == "enterprise"
        assert await silent_policy.wait_queued() == "enterprise"
        assert r.record_of(silent_menu).tags == ("企业",)
        assert r.record_of(silent_policy).tags == ("企业", "政策咨询")
        assert path_nodes(r.record_of(silent_policy))[-2:] == ["yiqilai/policy_other", "yiqilai/to_enterprise"]


async def test_key_9_supervision_seats():
    async with rig() as r:
        caller = r.call(MENU + [("dtmf", "9")])
        assert await caller.wait_queued() == "supervision"
        assert r.record_of(caller).tags == ("政务服务监管",)


async def test_no_key_twice_goes_to_the_public_queue():
    async with rig() as r:
        caller = r.call([("prompt",)])
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert [s.event for s in rec.path if s.node == "menu"] == ["no key", "no key"]
        assert rec.outcome == "queue" and rec.keys == ""


async def test_invalid_key_twice_goes_to_the_public_queue():
    async with rig() as r:
        caller = r.call(keys_at_menus("7", "5"))
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert [s.event for s in rec.path if s.node == "menu"] == ["invalid key 7", "invalid key 5"]


async def test_invalid_then_valid_key():
    async with rig() as r:
        caller = r.call(keys_at_menus("7", "9"))
        assert await caller.wait_queued() == "supervision"


async def test_hang_up_in_the_menu_is_recorded_and_nobody_is_queued():
    async with rig() as r:
        caller = r.call(MENU + [("hangup",)])
        await caller.wait_ended()
        assert not caller.call.joined.is_set()
        await asyncio.sleep(0.1)
        rec = r.record_of(caller)
        assert rec.outcome == "caller_hangup" and rec.queue is None
        assert r.server.stats.hung_up == 1 and r.server.stats.failed == 0


async def test_after_hours_on_a_sunday_every_line_goes_to_the_public_queue_tagged():
    async with rig(SUNDAY) as r:
        enterprise = r.call(MENU + [("dtmf", "2")])
        silent = r.call([("prompt",)], caller="13800000002")
        assert await enterprise.wait_queued() == "public"
        assert await silent.wait_queued() == "public"
        rec = r.record_of(enterprise)
        assert path_nodes(rec)[:4] == ["main/hotline", "main/hours", "main/after_hours", "after_hours/which"]
        assert rec.tags == ("非工作时间", "企业")
        assert r.record_of(silent).tags == ("非工作时间",)


async def test_weekday_evening_is_after_hours():
    async with rig(WEEKDAY_NIGHT) as r:
        caller = r.call(MENU + [("dtmf", "9")])
        assert await caller.wait_queued() == "public"
        assert r.record_of(caller).tags == ("非工作时间", "政务服务监管")


async def test_make_up_saturday_is_a_working_day_with_the_full_menu():
    async with rig(MAKEUP_SATURDAY) as r:
        caller = r.call(MENU + [("dtmf", "9")])
        assert await caller.wait_queued() == "supervision"
        assert "main/after_hours" not in path_nodes(r.record_of(caller))


async def test_statutory_holiday_plays_the_holiday_notice():
    async with rig(NATIONAL_DAY) as r:
        caller = r.call(MENU + [("dtmf", "1")])
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert "after_hours/holiday_notice" in path_nodes(rec)
        assert rec.tags == ("节假日", "群众诉求")


async def test_2027_holiday_known_only_from_the_override_file():
    async with rig(OVERRIDE_2027_HOLIDAY) as r:
        caller = r.call(MENU + [("dtmf", "2")])
        assert await caller.wait_queued() == "public"
        assert r.record_of(caller).tags == ("节假日", "企业")


async def test_directly_merged_hotline_enters_the_same_flow_tagged_with_its_number():
    async with rig() as r:
        caller = r.call(MENU + [("dtmf", "1")], exten="12316")
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert rec.hotline == "12316" and rec.tags == ("热线:12316", "群众诉求")
        assert r.channel_vars(caller)["__CTI_HOTLINE"] == "12316"


async def test_survey_ratings_are_recorded_with_the_call():
    async with rig() as r:
        r.sim.config.agi_script = "survey"   # the dialplan's AGI(.../survey) after the agent hangs up
        callers = {key: r.call([("prompt",), ("wait", 1.0), ("dtmf", key)], caller=f"1390000000{key}")
                   for key in ("1", "2", "3")}
        silent = r.call([("prompt",)], caller="13900000009")
        for caller in [*callers.values(), silent]:
            await caller.wait_queued()
        ratings = {key: r.record_of(c, "survey").rating for key, c in callers.items()}
        assert ratings == {"1": Rating.SATISFIED, "2": Rating.BASICALLY_SATISFIED, "3": Rating.DISSATISFIED}
        assert r.channel_vars(callers["3"])["CTI_RATING"] == "dissatisfied"
        assert r.record_of(silent, "survey").rating is None
        assert r.record_of(silent, "survey").outcome == "survey"


async def test_no_valid_flows_still_queues_every_caller(tmp_path):
    (tmp_path / "main.yaml").write_text("flow: main\nnodes: {}\n", encoding="utf-8")
    async with rig(flows_dir=tmp_path) as r:
        assert r.store.current is None
        caller = r.call(MENU + [("dtmf", "2")])
        assert await caller.wait_queued() == "public"
        rec = r.record_of(caller)
        assert rec.outcome == "failed" and "no valid flow" in rec.failure


async def test_hot_reload_while_50_callers_are_in_the_menu(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    async with rig(flows_dir=flows, speed=10) as r:
        old = r.store.current.version
        # 50 callers listen to the welcome, then wait 3 s into the menu before pressing 9.
        first = [r.call(MENU + [("wait", 3.0), ("dtmf", "9")], caller=f"138000{i:05d}") for i in range(50)]
        while sum(c.prompts_heard >= 2 for c in first) < 50:   # every caller hears the menu prompt
            await asyncio.sleep(0.005)
        assert not any(c.finished_steps.is_set() for c in first) and r.server.stats.active == 50
        # The admin sends key 9 to the public queue instead, and breaks nothing else.
        main = (flows / "main.yaml").read_text(encoding="utf-8")
        edited = main.replace("    type: goto\n    flow: supervision", "    type: queue\n    queue: public")
        assert edited != main
        (flows / "main.yaml").write_text(edited, encoding="utf-8")
        assert r.store.check() is True
        new = r.store.current.version
        assert new != old
        later = r.call(MENU + [("dtmf", "9")], caller="13900000001")
        queues = await asyncio.gather(*(c.wait_queued(30) for c in first))
        assert queues == ["supervision"] * 50                    # none dropped, all on their version
        assert {r.record_of(c).version for c in first} == {old}
        assert await later.wait_queued() == "public"
        assert r.record_of(later).version == new
        assert r.server.stats.failed == 0


async def test_an_invalid_edit_is_rejected_and_the_running_version_keeps_serving(tmp_path):
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    async with rig(flows_dir=flows) as r:
        good = r.store.current.version
        main = (flows / "main.yaml").read_text(encoding="utf-8")
        (flows / "main.yaml").write_text(main.replace('"9": supervision', '"9": supervisoin'), encoding="utf-8")
        assert r.store.check() is False
        assert r.store.current.version == good
        assert any("key 9 goes to unknown node 'supervisoin'" in e for e in r.store.last_errors)
        caller = r.call(MENU + [("dtmf", "9")])
        assert await caller.wait_queued() == "supervision"


async def test_the_part_replaces_the_placeholder_ivr_in_the_layer(tmp_path):
    from ivr_rig import flows_settings

    from cti.app import Layer
    from cti.settings import Settings
    from cti.simulator import SimConfig, Simulator
    from ivr_flows.part import FlowsPart
    from ivr_flows.record import TOPIC_SESSION

    sim = Simulator(SimConfig(ami_port=0, agi_port=1, speed=20))
    await sim.start()
    s = Settings(data_dir=tmp_path)
    s = s.model_copy(update={
        "ami": s.ami.model_copy(update={"port": sim.ami_port, "reconnect_min": 0.05}),
        "agi": s.agi.model_copy(update={"port": 0}), "http": s.http.model_copy(update={"port": 0}),
        "flows": flows_settings()})
    layer = Layer(s, parts=[FlowsPart])
    records = []
    layer.bus.subscribe(TOPIC_SESSION, lambda _t, rec: records.append(rec))
    await layer.start()
    sim.config.agi_port = layer.agi.port
    try:
        assert "survey" in layer.registry
        await layer.ami.wait_connected(5)
        await layer.ami.action({"Action": "Originate", "Channel": "Local/12345@from-pstn", "Context": "caller",
                                "Exten": "silent", "Priority": 1, "CallerID": "13800000001", "Async": "true"})
        while not records:
            await asyncio.sleep(0.02)
        assert records[0].flow == "main" and records[0].queue == "public"   # whatever the hour
        assert records[0].version == layer.parts[0].store.current.version
    finally:
        await layer.stop()
        await sim.stop()
