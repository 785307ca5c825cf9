"""Stopping a part's background loop without cutting a round in half.

A loop that writes to a database is asked to stop (its own flag and wake-up) and given time to end
its round; it is cancelled only after that. Cancelling a task inside an aiosqlite transaction can
leave the SQLite file's write lock held until the process exits (seen in CI: `cti campaigns list`
found the outbound database locked after the layer had stopped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


async def finish(task: asyncio.Task | None, grace: float) -> None:
    """Wait up to ``grace`` seconds for ``task`` (already asked to stop) to return, then cancel it.

    Never raises: the task's own exception was logged by its loop; a cancel is logged as a warning."""
    if task is None or task.done():
        return
    await asyncio.wait({task}, timeout=grace)
    if not task.done():
        log.warning("%s did not end its round within %.0f s; cancelled", task.get_name(), grace)
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
