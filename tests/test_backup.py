"""`cti backup DIR` (issue 22): while tickets and recordings keep being written, the copies of the SQLite
databases and of the recordings catalogue open, pass their integrity check and hold whole transactions
(every ticket with its ticket.created message, stored together), and the manifest describes them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import yaml
from waiting import until

from cti.bus import EventBus
from cti.databases import databases, problems
from cti.settings import load_settings
from cti.tickets.db import make_engine
from cti.tickets.service import TicketService
from recordings.catalogue import Catalogue


async def cti(config: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "cti.cli", "--config", str(config), *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"cti {' '.join(args)} did not finish within 60 s") from None
    return proc.returncode, out.decode()


async def test_given_a_layer_writing_when_backed_up_then_each_copy_opens_whole_and_the_manifest_says_what_it_holds(
        tmp_path):
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    settings = load_settings(config)
    assert await problems(settings) == []          # the three databases made at head, as `cti run` does
    engine = make_engine(settings.tickets.database_url)
    service = TicketService(engine, settings.tickets, EventBus())
    catalogue = Catalogue(settings.recordings.catalogue)
    made = 0
    stop = asyncio.Event()

    async def write() -> None:
        nonlocal made
        while not stop.is_set():
            await service.create(request_type="complaint", caller_number="13900000000", call_ids=[f"c{made}"],
                                 summary=f"路灯不亮 {made}")
            await asyncio.to_thread(catalogue.add, f"c{made}", f"c{made}", f"/spool/c{made}.wav", made, made)
            made += 1

    writer = asyncio.create_task(write())
    target = tmp_path / "backup"
    try:
        await until(lambda: made >= 20, timeout=30, what="20 tickets written", seen=lambda: made)
        before = made
        code, said = await cti(config, "backup", str(target))
        after = made
    finally:
        stop.set()
        await writer
        await engine.dispose()
        catalogue.close()
    assert code == 0, said
    assert after > before, f"no ticket was written while the backup ran ({before} before, {after} after)"

    manifest = json.loads((target / "manifest.json").read_text())
    heads = {s.name: s.head() for s, _url in databases(settings)}
    by_name = {f["name"]: f for f in manifest["files"]}
    assert set(by_name) == {"tickets.db", "monitor.db", "outbound.db", "recordings-catalogue.db"}, manifest
    assert [n["contents"] for n in manifest["not_copied"]] == ["recordings (audio files)"], manifest
    for name in ("tickets", "monitor", "outbound"):
        assert by_name[f"{name}.db"]["versions"] == {name: heads[name]}
    for item in manifest["files"]:
        copy = target / item["name"]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == item["sha256"]
        assert copy.stat().st_mode & 0o777 == 0o600
        assert not Path(f"{copy}-wal").exists()         # the copy stands alone
        with sqlite3.connect(copy) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for table, rows in item["tables"].items():
                assert db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == rows, (item["name"], table)

    with sqlite3.connect(target / "tickets.db") as db:
        tickets = db.execute("SELECT count(*) FROM tickets").fetchone()[0]
        alone = db.execute("SELECT count(*) FROM tickets t LEFT JOIN outbox o ON o.ticket_id = t.id "
                           "AND o.event_type = 'ticket.created' WHERE o.id IS NULL").fetchone()[0]
        messages = db.execute("SELECT count(*) FROM outbox WHERE event_type = 'ticket.created'").fetchone()[0]
    assert before <= tickets <= after + 1 and alone == 0 and messages == tickets, (before, tickets, after, alone)
    with sqlite3.connect(target / "recordings-catalogue.db") as db:
        recordings = db.execute("SELECT count(*) FROM recordings").fetchone()[0]
    assert before <= recordings <= after + 1, (before, recordings, after)

    code, said = await cti(config, "backup", str(target))      # never over an earlier backup
    assert code == 1 and "not an empty folder" in said, said


async def test_settings_that_find_no_database_make_no_backup_and_an_empty_file_is_copied_unversioned(tmp_path):
    config = tmp_path / "cti.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    code, said = await cti(config, "backup", str(tmp_path / "b1"))      # e.g. the wrong --config
    assert code == 1 and "nothing to copy" in said and "absent" in said, said
    assert not (tmp_path / "b1").exists()

    tickets = files_of(load_settings(config))["tickets"]
    tickets.parent.mkdir(parents=True)
    tickets.touch()                                                      # a 0-byte database file
    code, said = await cti(config, "backup", str(tmp_path / "b2"))
    assert code == 0, said
    manifest = json.loads((tmp_path / "b2" / "manifest.json").read_text())
    assert [f["versions"] for f in manifest["files"]] == [{"tickets": None}], manifest


def files_of(settings) -> dict[str, Path]:
    from cti.files import sqlite_file
    return {s.name: sqlite_file(url) for s, url in databases(settings)}
