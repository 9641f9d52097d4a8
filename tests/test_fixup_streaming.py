"""The fix-up reads the ledger in one pass and keeps its targets in a temporary file (issue 15):
the results are exactly those of the in-memory reading it replaced."""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from k2p.fixup import source
from k2p.fixup.source import (
    CLOCK_SKEW, LedgerObject, Move, Spilled, Target, read_ledger, sql_time,
)
from k2p.planka.ledger import Ledger
from k2p.timestamps import parse_time


def reference_view(path: Path, slack_seconds: float = 10.0) -> tuple[dict[str, LedgerObject], dict[str, int],
                                                                      list[int], list[int], str, str]:
    """The ledger as the fix-up read it before: every done row fetched, every time kept."""
    db = sqlite3.connect(path)
    meta = {key: orjson.loads(value) for key, value in db.execute("SELECT key, value FROM meta")}
    rows = db.execute("SELECT key, kind, planka_id, parent_id, state FROM objects "
                      "WHERE status = 'done' AND planka_id IS NOT NULL").fetchall()
    db.close()
    objects: dict[str, LedgerObject] = {}
    people: dict[str, int] = {}
    created: list[int] = []
    sso: list[int] = []
    seen: list[datetime] = []
    for key, kind, planka_id, parent_id, state_text in rows:
        state = orjson.loads(state_text or "{}")
        at = [parse_time(value) for value in (state.get("at") or [])]
        seen.extend(moment for moment in at if moment is not None)
        planka = source._int(planka_id)
        if planka is None:
            continue
        if kind == "user" and key.startswith("user:"):
            people[key[5:]] = planka
            if state.get("origin") == "created":
                created.append(planka)
                if state.get("sso"):
                    sso.append(planka)
            continue
        objects[key] = LedgerObject(planka, source._int(parent_id), sql_time(at[0]) if at and at[0] else None)
    runs = list(meta.get("runs") or [])
    seen.extend(moment for run in runs if (moment := parse_time(run.get("server_high_water"))))
    started = [moment for run in runs if (moment := parse_time(run.get("started_at")))]
    bounds = [*seen, *started]
    return (objects, people, sorted(set(created)), sorted(set(sso)),
            sql_time(max(seen) + timedelta(seconds=slack_seconds)), sql_time(min(bounds) - CLOCK_SKEW))


def _ledger(path: Path) -> None:
    """A ledger with every kind of row the fix-up meets: done and not done, users, odd ids, no times."""
    rng = random.Random(3)
    base = datetime(2026, 5, 1, tzinfo=timezone.utc)
    ledger = Ledger(path)
    ledger.close()
    db = sqlite3.connect(path)
    rows = []
    for number in range(1500):
        kind = rng.choice(["card", "comment", "task", "list", "user", "attachment"])
        key = f"user:{number}" if kind == "user" else f"{kind}:{number}"
        state: dict[str, Any] = {}
        if rng.random() < 0.8:
            state["at"] = [(base + timedelta(seconds=rng.randint(0, 10 ** 6))).isoformat()
                           for _ in range(rng.randint(1, 3))]
        if kind == "user":
            state["origin"] = rng.choice(["created", "matched"])
            state["sso"] = rng.random() < 0.3
        planka = rng.choice([str(10 ** 15 + number), str(10 ** 15 + number), None, "not-a-number"])
        status = "done" if rng.random() < 0.9 else "intent"
        rows.append((key, kind, status, planka, str(number // 7) if rng.random() < 0.7 else None,
                     orjson.dumps(state).decode(), 0.0))
    rows.append(("odd:user", "user", "done", "5", None, "{}", 0.0))   # a user kind without the prefix
    db.executemany("INSERT INTO objects (key, kind, status, planka_id, parent_id, state, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    runs = [{"started_at": "2026-04-30T10:00:00Z", "completed": True, "server_high_water": "2026-06-30T00:00:00Z"}]
    db.execute("INSERT OR REPLACE INTO meta VALUES ('runs', ?)", (orjson.dumps(runs).decode(),))
    db.commit()
    db.close()


def test_one_pass_reading_equals_the_in_memory_one(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    _ledger(path)
    objects, people, created, sso, high, low = reference_view(path)
    view = read_ledger(path)
    try:
        assert (view.people, view.created_people, view.sso_people, view.high_water, view.low_water) == \
            (people, created, sso, high, low)
        db = sqlite3.connect(path)
        keys = [key for (key,) in db.execute("SELECT key FROM objects")]
        db.close()
        assert len(objects) > 500
        for key in [*keys, "card:no-such", "user:1"]:
            assert view.objects.get(key) == objects.get(key), key
            assert view.planka_id(key) == (objects[key].planka_id if key in objects else None)
    finally:
        view.close()


def test_spilled_rows_come_back_in_order(monkeypatch: Any) -> None:
    monkeypatch.setattr(Spilled, "BUFFER", 7)
    rng = random.Random(1)
    targets = [Target(rng.choice(["card", "comment"]), rng.randint(1, 10 ** 18), rng.choice([None, 5]),
                      rng.choice([None, "2026-01-01 00:00:00.000000"]), "2026-01-02 00:00:00.000000",
                      "2026-01-03 00:00:00.000000", rng.choice([None, 7]), rng.choice([None, "it's"]))
               for _ in range(100)]
    spilled: Spilled[Target] = Spilled(Target)
    assert not spilled and len(spilled) == 0 and list(spilled) == []
    for number, target in enumerate(targets):
        spilled.append(target)
        if number == 50:
            assert list(spilled) == targets[:51]   # read back mid-way, then appended to again
    assert len(spilled) == 100 and bool(spilled)
    assert list(spilled) == targets and list(spilled) == targets
    moves: Spilled[Move] = Spilled(Move)
    move = Move("e1", 1, 2, 3, None, "2026-01-01 00:00:00.000000")
    moves.append(move)
    assert list(moves) == [move]
    spilled.close()
    moves.close()
