"""A report asked for while the periodic flush is still writing rows waits for those rows."""

from __future__ import annotations

import asyncio

from monitor_support import monitor_settings

from cti.app import Layer
from queue_monitor.engine import QueueCall
from queue_monitor.part import MonitorPart


def answered(n: int) -> QueueCall:
    return QueueCall(uniqueid=f"1790000000.{n}", linkedid=f"1790000000.{n}", queue="public", hotline="12345",
                     joined_at=1790000000 + n, left_at=1790000005 + n, outcome="answered",
                     connected_at=1790000005 + n, ended_at=1790000065 + n, agent="PJSIP/6001")


async def test_a_flush_waits_for_the_rows_another_flush_is_writing(tmp_path):
    layer = Layer(monitor_settings(tmp_path, ami_port=1), parts=[MonitorPart])
    part = layer.parts[0]
    await part.store.create()
    try:
        part.pending.extend(answered(n) for n in range(200))
        periodic = asyncio.create_task(part.flush())      # the periodic flush takes the rows...
        await asyncio.sleep(0)                             # ...and is writing them now
        await part.flush()                                 # what /api/reports does before it reads
        assert len(await part.store.calls(1790000000, 1790001000)) == 200
        await periodic
    finally:
        await part.store.close()
