"""One way for a test to wait for the thing itself: poll a condition until a generous deadline, and on
timeout say what was awaited and what was seen (a bare TimeoutError left CI logs silent)."""

from __future__ import annotations

import asyncio
import inspect


def _source(predicate) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


async def until(predicate, timeout: float = 10.0, step: float = 0.02, what: str = "", seen=None) -> None:
    """Wait until ``predicate()`` is true, checking every ``step`` seconds, for at most ``timeout`` seconds;
    ``predicate`` may be a coroutine function (a database or HTTP read).

    Raises AssertionError naming ``what`` (or the predicate's source) and ``seen()`` (or ``seen``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await _holds(predicate):
        if loop.time() > deadline:
            detail = seen() if callable(seen) else seen
            raise AssertionError(f"waited {timeout} s for {what or _source(predicate)}"
                                 + ("" if detail is None else f"; saw: {detail}"))
        await asyncio.sleep(step)


async def _holds(predicate) -> bool:
    result = predicate()
    return bool(await result if inspect.isawaitable(result) else result)
