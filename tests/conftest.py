import sys
import threading
from pathlib import Path

import pytest

# Test helpers (replay servers, scripted clients) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

from cti.bus import EventBus  # noqa: E402

# A message of the wrong type fails the test whose code published it (production logs it once).
EventBus.strict = True


def _await_chain(coro, depth: int = 30) -> list:
    """The frames a coroutine waits in, outermost first, through awaited coroutines and the async
    generators (fixtures) their frames are stepping."""
    import inspect

    frames = []
    while coro is not None and depth:
        depth -= 1
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        nxt = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None) or getattr(coro, "gi_yieldfrom", None)
        if nxt is not None and not hasattr(nxt, "cr_frame") and not hasattr(nxt, "gi_frame"):
            # an async generator's __anext__(): follow the generator found among the frame's locals
            owners = [*frame.f_locals.values(), getattr(frame.f_locals.get("self"), "gen", None)]   # contextlib
            nxt = next((v for v in owners if inspect.isasyncgen(v) and v.ag_running), None)
        coro = nxt
    return frames


def _pending_tasks() -> str:
    """Where every unfinished asyncio task waits: pytest-timeout shows only the event loop's select()."""
    import asyncio
    import traceback

    lines = []
    for task in list(asyncio.tasks._all_tasks):   # private, but the only view from outside the loop
        if task.done():
            continue
        lines.append(f"--- {task.get_name()}: {task.get_coro()!r}")
        for frame in _await_chain(task.get_coro()):
            lines.extend(traceback.format_stack(frame, limit=1))
    return "\n".join(lines) or "no unfinished asyncio task"


def pytest_runtest_makereport(item, call):
    # A timed-out test says what each of its tasks was waiting for.
    if call.excinfo is not None and "Timeout" in str(call.excinfo.value):
        item.add_report_section(call.when, "asyncio tasks at timeout", _pending_tasks())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # A hang in a fixture's teardown ends with its event loop closed: dump the tasks from a watchdog
    # thread just before pytest-timeout fires (the loop is blocked in select() meanwhile).
    marker = item.get_closest_marker("timeout")
    configured = item.config.getoption("timeout", None) or item.config.getini("timeout") or 0
    timeout = float(marker.args[0]) if marker and marker.args else float(configured)
    watchdog = None
    if timeout > 10:
        def dump() -> None:
            sys.stderr.write(f"\n--- {item.nodeid} still running after {timeout - 5:.0f} s; asyncio tasks:\n"
                             f"{_pending_tasks()}\n")
        watchdog = threading.Timer(timeout - 5, dump)
        watchdog.daemon = True
        watchdog.start()
    try:
        yield
    finally:
        if watchdog is not None:
            watchdog.cancel()

