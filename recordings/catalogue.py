"""The catalogue of recordings (SQLite): one row per captured call, its conversion state and tickets.

Synchronous on purpose: the part runs every call in one dedicated thread, so the event loop never
waits on the disk and SQLite sees a single writer.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    uniqueid TEXT PRIMARY KEY,
    linkedid TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,              -- the capture file, kept until a good conversion
    captured_at REAL NOT NULL,
    status TEXT NOT NULL,              -- pending, ready, failed, deleted, empty (unanswered, no audio)
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL,
    last_error TEXT NOT NULL DEFAULT '',
    key TEXT,                          -- where the store keeps the converted file
    format TEXT,
    duration REAL,
    source_duration REAL,
    size INTEGER,
    sha256 TEXT,
    converted_at REAL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS ix_recordings_due ON recordings (status, next_attempt);
CREATE TABLE IF NOT EXISTS ticket_calls (
    ticket_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    PRIMARY KEY (ticket_id, call_id)
);
CREATE INDEX IF NOT EXISTS ix_ticket_calls_call ON ticket_calls (call_id);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id TEXT PRIMARY KEY,
    status TEXT
);
"""

# empty: a call nobody answered left a capture with no audio; removed, never retried, never linked
STATUSES = ("pending", "ready", "failed", "deleted", "empty")


@dataclass(frozen=True)
class Recording:
    uniqueid: str
    linkedid: str
    source: str
    captured_at: float
    status: str
    attempts: int
    next_attempt: float
    last_error: str
    key: str | None
    format: str | None
    duration: float | None
    source_duration: float | None
    size: int | None
    sha256: str | None
    converted_at: float | None
    deleted_at: float | None

    def as_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "source"}


class Catalogue:
    def __init__(self, path: Path | str) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, *args) -> list[Recording]:
        return [Recording(*row) for row in self.db.execute(sql, args).fetchall()]

    # -- recordings -----------------------------------------------------------------------------
    def add(self, uniqueid: str, linkedid: str, source: str, captured_at: float, now: float) -> bool:
        """A new capture; False when the call is known already (a repeated Hangup, a rescan).

        ``captured_at`` is the PBX's time of the Hangup; ``now`` the layer's clock, which schedules.
        """
        cur = self.db.execute(
            "INSERT OR IGNORE INTO recordings (uniqueid, linkedid, source, captured_at, status, next_attempt)"
            " VALUES (?, ?, ?, ?, 'pending', ?)", (uniqueid, linkedid, source, captured_at, now))
        return cur.rowcount == 1

    def get(self, uniqueid: str) -> Recording | None:
        rows = self._rows("SELECT * FROM recordings WHERE uniqueid = ?", uniqueid)
        return rows[0] if rows else None

    def find(self, call_id: str) -> Recording | None:
        """The recording of a call named by its channel's uniqueid or by the call's linkedid."""
        rows = self._rows("SELECT * FROM recordings WHERE (uniqueid = ? OR linkedid = ?)"
                          " AND status NOT IN ('deleted', 'empty')"
                          " ORDER BY uniqueid = ? DESC, captured_at LIMIT 1", call_id, call_id, call_id)
        return rows[0] if rows else None

    def listing(self, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Recording]:
        if status:
            return self._rows("SELECT * FROM recordings WHERE status = ? ORDER BY captured_at DESC LIMIT ? OFFSET ?",
                              status, limit, offset)
        return self._rows("SELECT * FROM recordings ORDER BY captured_at DESC LIMIT ? OFFSET ?", limit, offset)

    def known_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT uniqueid FROM recordings")}

    def due(self, now: float, limit: int, exclude: set[str] = frozenset()) -> list[Recording]:
        rows = self._rows("SELECT * FROM recordings WHERE status = 'pending' AND next_attempt <= ?"
                          " ORDER BY next_attempt LIMIT ?", now, limit + len(exclude))
        return [r for r in rows if r.uniqueid not in exclude][:limit]

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT MIN(next_attempt) FROM recordings WHERE status = 'pending'").fetchone()
        return row[0]

    def postpone(self, uniqueid: str, when: float) -> None:
        self.db.execute("UPDATE recordings SET next_attempt = ? WHERE uniqueid = ?", (when, uniqueid))

    def mark_ready(self, uniqueid: str, key: str, fmt: str, duration: float, source_duration: float,
                   size: int, sha256: str, now: float) -> None:
        self.db.execute(
            "UPDATE recordings SET status = 'ready', key = ?, format = ?, duration = ?, source_duration = ?,"
            " size = ?, sha256 = ?, converted_at = ?, attempts = attempts + 1, last_error = ''"
            " WHERE uniqueid = ?", (key, fmt, duration, source_duration, size, sha256, now, uniqueid))

    def mark_attempt_failed(self, uniqueid: str, error: str, next_attempt: float, give_up: bool) -> None:
        self.db.execute(
            "UPDATE recordings SET attempts = attempts + 1, last_error = ?, next_attempt = ?, status = ?"
            " WHERE uniqueid = ?", (error[:2000], next_attempt, "failed" if give_up else "pending", uniqueid))

    def mark_empty(self, uniqueid: str, now: float) -> None:
        """An unanswered call's capture held no audio: final, not a failure (its file is removed)."""
        self.db.execute("UPDATE recordings SET status = 'empty', last_error = '', converted_at = ?"
                        " WHERE uniqueid = ?", (now, uniqueid))

    def retry(self, uniqueid: str, now: float) -> bool:
        """Send a failed recording back to the queue (after an admin fixed the cause)."""
        cur = self.db.execute("UPDATE recordings SET status = 'pending', attempts = 0, next_attempt = ?"
                              " WHERE uniqueid = ? AND status = 'failed'", (now, uniqueid))
        return cur.rowcount == 1

    def ready_before(self, when: float) -> list[Recording]:
        return self._rows("SELECT * FROM recordings WHERE status = 'ready' AND captured_at < ?", when)

    def mark_deleted(self, uniqueid: str, now: float) -> None:
        self.db.execute("UPDATE recordings SET status = 'deleted', deleted_at = ? WHERE uniqueid = ?",
                        (now, uniqueid))

    # -- tickets --------------------------------------------------------------------------------
    def link_ticket(self, ticket_id: str, call_ids: list[str], status: str | None) -> None:
        self.db.execute("INSERT INTO tickets (ticket_id, status) VALUES (?, ?)"
                        " ON CONFLICT (ticket_id) DO UPDATE SET status = excluded.status", (ticket_id, status))
        self.db.executemany("INSERT OR IGNORE INTO ticket_calls (ticket_id, call_id) VALUES (?, ?)",
                            [(ticket_id, c) for c in call_ids])

    def set_ticket_status(self, ticket_id: str, status: str) -> None:
        self.db.execute("UPDATE tickets SET status = ? WHERE ticket_id = ?", (status, ticket_id))

    def tickets_for(self, rec: Recording) -> dict[str, str | None]:
        ids = [i for i in (rec.uniqueid, rec.linkedid) if i]
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT DISTINCT t.ticket_id, t.status FROM ticket_calls c JOIN tickets t USING (ticket_id)"
            f" WHERE c.call_id IN ({marks})", ids).fetchall()
        return dict(rows)

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM recordings GROUP BY status").fetchall())
