"""The screen pop's hotline and tags come from what the dialplan tells the layer (the CTI_HOTLINE /
CTI_TAGS VarSets, the CTILinkage UserEvent), also for the 110 hand-over that skips the IVR."""

from __future__ import annotations

import aiohttp
from calls_support import until
from outbound_support import hand_over_from_110, outbound_centre, outbound_settings

from cti.ami import AmiMessage
from cti.calls.tracker import CallTracker


async def test_given_a_110_hand_over_when_an_agent_answers_then_the_pop_says_hotline_110_and_tag_110分流(tmp_path):
    s = outbound_settings(tmp_path)
    async with outbound_centre(tmp_path, s) as c:
        c.sim.pbx.set_agent("6201", 1, 3600)
        await hand_over_from_110(c, s)
        await until(lambda: any(p.queue == "linkage110" for p in c.pops), 10)
        pop = next(p for p in c.pops if p.queue == "linkage110")
        assert (pop.hotline, pop.tags, pop.ivr_path) == ("110", ("110分流",), ())
        async with aiohttp.ClientSession() as http:
            r = await http.get(f"http://127.0.0.1:{c.layer.http_port}/api/calls/{pop.call_id}?token=desk-token")
            call = await r.json()
        assert (call["hotline"], call["tags"]) == ("110", ["110分流"])


def event(name: str, **headers: str) -> AmiMessage:
    return AmiMessage((("Event", name), *((k, v) for k, v in headers.items())))


def test_given_only_the_linkage_user_event_then_its_source_is_the_hotline_and_its_tag_a_tag():
    """A manager user that passes UserEvents but no VarSet still pops the hand-over right."""
    tracker = CallTracker()
    uid, channel = "1764470000.7", "Local/12345110@cti-inbound-00000003;2"
    tracker.feed(event("UserEvent", UserEvent="CTILinkage", Source="110", Queue="linkage110", Tag="110分流",
                       Uniqueid=uid, Channel=channel))
    [notice] = tracker.feed(event("AgentConnect", Uniqueid=uid, Channel=channel, Queue="linkage110",
                                  Interface="Local/6001@agents/n", DestChannel="Local/6001@agents-00000004;1",
                                  CallerIDNum="110", HoldTime="1"))
    assert (notice.call.hotline, notice.call.tags) == ("110", ("110分流",))


def test_given_tags_set_after_the_answer_then_the_live_call_learns_them_and_a_set_hotline_wins():
    tracker = CallTracker()
    uid, channel = "1764470000.9", "Local/12316@cti-inbound-00000005;2"
    tracker.feed(event("VarSet", Variable="__CTI_HOTLINE", Value="12316", Uniqueid=uid, Channel=channel))
    tracker.feed(event("UserEvent", UserEvent="CTILinkage", Source="110", Tag="110分流", Uniqueid=uid))
    tracker.feed(event("AgentConnect", Uniqueid=uid, Channel=channel, Queue="public",
                       Interface="Local/6001@agents/n", DestChannel="Local/6001@agents-00000006;1"))
    tracker.feed(event("VarSet", Variable="__CTI_TAGS", Value="热线:12316,企业", Uniqueid=uid, Channel=channel))
    call = tracker.get(uid)
    assert (call.hotline, call.tags) == ("12316", ("110分流", "热线:12316", "企业"))
