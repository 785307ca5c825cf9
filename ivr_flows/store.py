"""The flows in service and their hot reload.

``current`` is an immutable FlowSet; a call takes it once at its start, so an edit never changes a
call in progress. A reload validates the whole directory: when valid it becomes ``current`` (its
content hash logged); when not, every error is logged and the previous version keeps serving. When a
valid directory follows a rejected edit, the log and ``/api/flows`` say so (``history``): the admin who
fixed a file sees that the fix went live, and since when.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from ivr_flows.loader import FLOW_SUFFIXES, FlowLoadError, load_dir
from ivr_flows.model import FlowSet
from ivr_flows.schema import Context

log = logging.getLogger("ivr_flows")
HISTORY = 20   # entries of /api/flows "history"


class FlowStore:
    def __init__(self, flows_dir: Path, context_factory, required: tuple[str, ...] = ()) -> None:
        self.flows_dir = Path(flows_dir)
        self._context_factory = context_factory  # rebuilt per load: prompts may be added with a flow
        self.required = required
        self.current: FlowSet | None = None
        self.last_errors: list[str] = []
        self.since: float | None = None         # epoch s: when ``current`` went into service
        self.history: deque[dict] = deque(maxlen=HISTORY)   # versions live and edits rejected, oldest first
        self.clock = time.time
        self._fingerprint: tuple | None = None
        self._task: asyncio.Task | None = None

    def fingerprint(self) -> tuple:
        try:
            entries = sorted(p for p in self.flows_dir.iterdir() if p.suffix in FLOW_SUFFIXES)
        except OSError:
            return ()
        out = []
        for p in entries:
            with contextlib.suppress(OSError):
                st = p.stat()
                out.append((p.name, st.st_mtime_ns, st.st_size))
        return tuple(out)

    def reload(self) -> bool:
        """Load the directory now; True when a new version went into service."""
        self._fingerprint = self.fingerprint()
        try:
            context: Context = self._context_factory()
            flows = load_dir(self.flows_dir, context, self.required)
        except FlowLoadError as exc:
            self.last_errors = [str(e) for e in exc.errors]
            keeps = f"version {self.current.version} keeps serving" if self.current else "no flow is in service"
            log.error("flows in %s rejected (%d error(s)); %s:\n  %s", self.flows_dir, len(exc.errors), keeps,
                      "\n  ".join(self.last_errors))
            self._note("rejected", self.current.version if self.current else None, errors=self.last_errors)
            return False
        except Exception:  # a bug or an unreadable file must not stop the service
            log.exception("flows in %s could not be loaded", self.flows_dir)
            return False
        after_rejection = bool(self.last_errors)
        self.last_errors = []
        if self.current is not None and flows.version == self.current.version:
            if after_rejection:   # the edit was undone: the version serving all along is valid again
                log.info("flows in %s valid again: version %s keeps serving (in service since %s)",
                         self.flows_dir, flows.version, _iso(self.since))
                self._note("valid again", flows.version)
            return False
        self.current = flows
        self.since = self.clock()
        again = " after the rejected edit" if after_rejection else ""
        log.info("flows version %s in service%s: %s", flows.version, again,
                 ", ".join(f"{f.name}={f.digest}" for f in flows.flows.values()))
        self._note("live after a rejected edit" if after_rejection else "live", flows.version)
        return True

    def _note(self, event: str, version: str | None, errors: list[str] | None = None) -> None:
        entry = {"at": _iso(self.clock()), "event": event, "version": version}
        if errors is not None:
            entry["errors"] = len(errors)
        self.history.append(entry)

    def status(self) -> dict:
        """What /api/flows shows of the flows: version in service, since when, the last refusal, history."""
        return {"version": self.current.version if self.current else None, "since": _iso(self.since),
                "flows": {n: f.digest for n, f in self.current.flows.items()} if self.current else {},
                "rejected": list(self.last_errors), "history": list(self.history)}

    def check(self) -> bool:
        """Reload when a file changed since the last look; True when a new version went into service."""
        if self.fingerprint() == self._fingerprint:
            return False
        return self.reload()

    def start_watching(self, interval: float) -> None:
        if interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch(interval), name="flows watch")

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Exception:
                log.exception("flows watch failed; retrying")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
