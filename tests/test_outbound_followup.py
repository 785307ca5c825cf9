"""Follow-up calls (回访) against the simulator: the citizen's answer is stored; no answer is retried with
spacing up to the limit; nothing is dialled outside the allowed hours."""

from __future__ import annotations

import asyncio
import datetime as dt

from calls_support import until
from outbound_support import outbound_centre, outbound_settings

from cti.messages import Rating
from cti.simulator.outbound import CitizenPhone


async def test_given_answering_citizen_when_followed_up_then_rating_stored_and_sent(tmp_path):
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"])
    async with outbound_centre(tmp_path, s) as c:
        c.ext.citizens["13900000001"] = CitizenPhone(answer_delay=3, keys=["3", "2"])
        requests = []
        c.layer.bus.subscribe("tickets.request", lambda _t, m: requests.append(m))
        fid = await c.outbound.schedule("list-2025", "13900000001", "T1")
        await until(lambda: requests, 15)
        f = await c.outbound.store.get(fid)
        assert (f.state, f.rating, f.settled, f.attempts) == ("done", 3, False, 1)
        assert requests[0].rating is Rating.DISSATISFIED and "T1" in requests[0].summary


async def test_given_silent_phone_when_followed_up_then_retried_with_spacing_up_to_limit(tmp_path):
    s = outbound_settings(tmp_path, followup_hours=["00:00-23:59"], max_attempts=2, retry_spacing=0.3,
                          ring_timeout=10)
    async with outbound_centre(tmp_path, s) as c:
        c.ext.citizens["13900000002"] = CitizenPhone(answers=False)
        fid = await c.outbound.schedule("list-2025", "13900000002")
        await until(lambda: len(c.ext.dialled) == 2, 15)
        for _ in range(500):
            f = await c.outbound.store.get(fid)
            if f.state == "exhausted":
                break
            await asyncio.sleep(0.02)
        first, second = (t for t, _ in c.ext.dialled)
        assert second - first >= 10 + 0.3 * 40 - 1   # ring timeout, then the spacing (x40 simulated speed)
        assert (f.state, f.attempts, f.last_outcome) == ("exhausted", 2, "no_answer")
        assert len(c.ext.dialled) == 2


async def test_given_night_when_ticket_due_then_no_call(tmp_path):
    s = outbound_settings(tmp_path)
    async with outbound_centre(tmp_path, s) as c:
        c.outbound.clock = lambda: dt.datetime(2025, 3, 5, 23, 30, tzinfo=c.outbound.tz)
        await c.outbound.schedule("list-2025", "13900000003")
        await c.outbound.round()
        assert c.ext.dialled == [] and c.outbound.hold_reason == "outside follow-up hours"
