"""An outbound database made before ``network_failures`` existed keeps working after the upgrade: the column
is added with its default (create_all makes tables, never columns), stored follow-ups are kept."""

from __future__ import annotations

import sqlite3

from cti.outbound.store import Store

# outbound_followups as the layer created it before issue 13 (no network_failures column)
OLD_TABLE = """CREATE TABLE outbound_followups (
    id INTEGER NOT NULL PRIMARY KEY, campaign VARCHAR(80) NOT NULL, ticket_id VARCHAR(40) NOT NULL,
    number VARCHAR(40) NOT NULL, state VARCHAR(12) NOT NULL, attempts INTEGER NOT NULL,
    next_attempt_at FLOAT NOT NULL, last_outcome VARCHAR(20), rating INTEGER, settled BOOLEAN,
    result_ticket VARCHAR(40), created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL)"""


async def test_given_a_database_of_the_previous_release_when_the_layer_starts_then_follow_ups_are_kept_and_counted(
        tmp_path):
    path = tmp_path / "outbound.db"
    with sqlite3.connect(path) as db:
        db.execute(OLD_TABLE)
        db.execute("INSERT INTO outbound_followups VALUES (1, 'closed-tickets', 'T1', '13900000001', 'pending', 1,"
                   " 0, 'no_answer', NULL, NULL, NULL, 0, 0)")
    store = Store(f"sqlite+aiosqlite:///{path}")
    try:
        await store.migrate()
        await store.migrate()   # twice: a second start adds nothing
        old = await store.get(1)
        assert (old.number, old.attempts, old.last_outcome, old.network_failures) == ("13900000001", 1, "no_answer", 0)
        new = await store.add_followup("closed-tickets", "13900000002", "T2", 0.0, 0.0)
        await store.update(new.id, network_failures=2)
        assert (await store.get(new.id)).network_failures == 2
    finally:
        await store.close()
