import sys
from pathlib import Path

# Test helpers (replay servers, scripted clients) live next to the tests.
sys.path.insert(0, str(Path(__file__).parent))

from cti.bus import EventBus  # noqa: E402

# A message of the wrong type fails the test whose code published it (production logs it once).
EventBus.strict = True


def _pending_tasks() -> str:
    """Where every unfinished asyncio task waits: pytest-timeout shows only the event loop's select()."""
    import asyncio
    import traceback

    lines = []
    for task in list(asyncio.tasks._all_tasks):   # private, but the only view from outside the loop
        if task.done():
            continue
        lines.append(f"--- {task.get_name()}: {task.get_coro()!r}")
        for frame in task.get_stack(limit=12):
            lines.extend(traceback.format_stack(frame, limit=1))
    return "\n".join(lines) or "no unfinished asyncio task"


def pytest_runtest_makereport(item, call):
    # A timed-out test says what each of its tasks was waiting for.
    if call.excinfo is not None and "Timeout" in str(call.excinfo.value):
        item.add_report_section(call.when, "asyncio tasks at timeout", _pending_tasks())


def pytest_collection_modifyitems(items):
    # With workers (make test), one real-switch file runs on one worker: its module-scoped switch and
    # its tests' order stay as written.
    import pytest

    for item in items:
        if "real_asterisk" in item.path.parts:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
