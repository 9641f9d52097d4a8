"""Rendering the fix-up and its undo as PostgreSQL scripts for ``psql -v ON_ERROR_STOP=1 -1 -f``.

The fix-up loads its target values into temporary tables with multi-row INSERTs, classifies every
targeted row once (``k2p_state``: apply, already, skipped, missing, mismatch), saves the previous
values of the rows it changes into ``k2p_fixup_saved``, then runs one guarded ``UPDATE … FROM`` per
table. The undo script reads only ``k2p_fixup_saved``: it restores a row when the row still holds
exactly what the fix-up wrote, deletes the history actions it inserted and re-inserts the
notifications it deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

from k2p.fixup.source import LedgerView, Move, Target

CHUNK = 1000                  # rows per INSERT … VALUES
MARKER = "k2pLocationEvent"   # key in action.data of the moveCard rows the fix-up inserts
SHOWN = 50                    # rows left alone that the summary lists


@dataclass(frozen=True)
class Column:
    name: str
    type: str         # SQL type of the column (to read it back from jsonb)
    target: str       # expression of the new value (t = k2p_target row, r = the Planka row)


def _times(*extra: Column) -> tuple[Column, ...]:
    return (Column("created_at", "timestamp", "t.created_at"),
            Column("updated_at", "timestamp", "t.updated_at"), *extra)


def _author(name: str) -> Column:
    """An author column: the mapped person, else what Planka recorded."""
    return Column(name, "bigint", f"COALESCE(t.user_id, r.{name})")


@dataclass(frozen=True)
class Table:
    name: str                     # Planka 2.1.1 table
    parent: str | None            # column that must equal the ledger's parent id
    columns: tuple[Column, ...]

    def row(self, alias: str = "r") -> str:
        return ", ".join(f"{alias}.{column.name}" for column in self.columns)

    def targets(self) -> str:
        return ", ".join(column.target for column in self.columns)


TABLES: tuple[Table, ...] = (
    Table("project", None, _times()),
    Table("board", "project_id", _times()),
    Table("list", "board_id", _times()),
    Table("card", "board_id", _times(_author("creator_user_id"),
                                     Column("list_changed_at", "timestamp", "t.list_changed_at"))),
    Table("task_list", "card_id", _times()),
    Table("task", "task_list_id", _times()),
    Table("comment", "card_id", _times(_author("user_id"))),
    Table("attachment", "card_id", _times(_author("creator_user_id"))),
)
# The card's createCard action takes the card's target creation time and author.
ACTION = Table("action", "card_id", (Column("created_at", "timestamp", "t.created_at"), _author("user_id")))
UPDATED = (*TABLES, ACTION)
# Accounts created with --sso: Planka's API cannot set the flag (only an OIDC login does).
SSO = Table("user_account", None, (Column("is_sso_user", "boolean", "true"),))

QUIET = ("\\set QUIET on\n-- (psql: print the summaries below, not every command tag or notice)\n"
         "SET LOCAL client_min_messages = warning;")
SAVED_DDL = """CREATE TABLE IF NOT EXISTS k2p_fixup_saved (
    tbl text NOT NULL,            -- Planka table
    id bigint NOT NULL,           -- row id in that table
    op text NOT NULL,             -- update | delete | insert (what the fix-up did to the row)
    old jsonb NOT NULL,           -- the columns before the fix-up (the whole row for delete)
    new jsonb NOT NULL,           -- what the fix-up wrote (undo restores only rows still holding it)
    saved_at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    PRIMARY KEY (tbl, id));"""
TEMP_TABLES = """DROP TABLE IF EXISTS k2p_target, k2p_state, k2p_move, k2p_summary;
CREATE TEMP TABLE k2p_target (tbl text, id bigint, parent_id bigint, seen_created timestamp,
    created_at timestamp, updated_at timestamp, user_id bigint, list_changed_at timestamp,
    PRIMARY KEY (tbl, id));
CREATE TEMP TABLE k2p_state (tbl text, id bigint, ref_id bigint, state text, PRIMARY KEY (tbl, id));
CREATE TEMP TABLE k2p_move (event text PRIMARY KEY, card_id bigint, from_list bigint, to_list bigint,
    user_id bigint, created_at timestamp);
CREATE TEMP TABLE k2p_summary (what text, changed bigint, already bigint, skipped bigint,
    missing bigint);"""
SUMMARY = """INSERT INTO k2p_summary
SELECT CASE tbl WHEN 'action' THEN 'action (createCard)' ELSE tbl END,
       count(*) FILTER (WHERE state = 'apply'), count(*) FILTER (WHERE state = 'already'),
       count(*) FILTER (WHERE state = 'skipped'), count(*) FILTER (WHERE state IN ('missing', 'mismatch'))
FROM k2p_state GROUP BY tbl;"""
REPORT = f"""SELECT format('k2p-fixup: %s changed=%s already=%s skipped=%s missing=%s',
              what, changed, already, skipped, missing) AS "k2p fix-up summary"
FROM k2p_summary ORDER BY what;
SELECT format('k2p-fixup: left alone %s %s (%s)', tbl, id, state) AS "rows left alone"
FROM k2p_state WHERE state IN ('skipped', 'missing', 'mismatch') ORDER BY tbl, id LIMIT {SHOWN};
DROP TABLE k2p_target, k2p_state, k2p_move, k2p_summary;"""


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _values(table: str, rows: Iterable[Sequence[object]]) -> Iterator[str]:
    batch: list[str] = []
    for row in rows:
        batch.append("(" + ", ".join(literal(value) for value in row) + ")")
        if len(batch) == CHUNK:
            yield f"INSERT INTO {table} VALUES\n" + ",\n".join(batch) + ";"
            batch = []
    if batch:
        yield f"INSERT INTO {table} VALUES\n" + ",\n".join(batch) + ";"


def _json(pairs: Iterable[tuple[str, str]]) -> str:
    return "jsonb_build_object(" + ", ".join(f"'{name}', {value}" for name, value in pairs) + ")"


def _current(table: Table) -> str:
    return _json((column.name, f"r.{column.name}") for column in table.columns)


def _new(table: Table) -> str:
    return _json((column.name, column.target) for column in table.columns)


def _classify(table: Table, high_water: str) -> str:
    parent = (f"\n        WHEN r.{table.parent} IS DISTINCT FROM t.parent_id THEN 'mismatch'"
              if table.parent else "")
    return f"""INSERT INTO k2p_state (tbl, id, ref_id, state)
SELECT '{table.name}', t.id, t.id, CASE
        WHEN r.id IS NULL THEN 'missing'{parent}
        WHEN ROW({table.row()}) IS NOT DISTINCT FROM ROW({table.targets()}) THEN 'already'
        WHEN COALESCE(r.updated_at, r.created_at) <= {literal(high_water)}::timestamp
             AND (t.seen_created IS NULL
                  OR t.seen_created IN (r.created_at, (s.old->>'created_at')::timestamp)) THEN 'apply'
        ELSE 'skipped' END
FROM k2p_target t
LEFT JOIN "{table.name}" r ON r.id = t.id
LEFT JOIN k2p_fixup_saved s ON s.tbl = '{table.name}' AND s.id = t.id AND s.op = 'update'
WHERE t.tbl = '{table.name}';"""


def _classify_actions(high_water: str) -> str:
    """createCard actions follow their card: left alone when the card is skipped."""
    return f"""INSERT INTO k2p_state (tbl, id, ref_id, state)
SELECT 'action', r.id, t.id, CASE
        WHEN ROW({ACTION.row()}) IS NOT DISTINCT FROM ROW({ACTION.targets()}) THEN 'already'
        WHEN c.state <> 'skipped'
             AND COALESCE(r.updated_at, r.created_at) <= {literal(high_water)}::timestamp THEN 'apply'
        ELSE 'skipped' END
FROM k2p_target t
JOIN k2p_state c ON c.tbl = 'card' AND c.id = t.id AND c.state IN ('apply', 'already', 'skipped')
JOIN action r ON r.card_id = t.id AND r.type = 'createCard'
WHERE t.tbl = 'card';"""


def _apply(table: Table) -> str:
    source = "card" if table is ACTION else table.name
    joins = f"FROM k2p_state st\nJOIN k2p_target t ON t.tbl = '{source}' AND t.id = st.ref_id"
    where = f"st.tbl = '{table.name}' AND st.state = 'apply'"
    sets = ",\n    ".join(f"{column.name} = {column.target}" for column in table.columns)
    return f"""INSERT INTO k2p_fixup_saved (tbl, id, op, old, new)
SELECT '{table.name}', r.id, 'update', {_current(table)},
       {_new(table)}
{joins}
JOIN "{table.name}" r ON r.id = st.id
WHERE {where}
ON CONFLICT (tbl, id) DO UPDATE SET new = EXCLUDED.new;
UPDATE "{table.name}" r SET
    {sets}
{joins}
WHERE {where} AND r.id = st.id;"""


def _list_json(alias: str) -> str:
    return _json((("id", f"{alias}.id::text"), ("type", f"{alias}.type"), ("name", f"{alias}.name")))


HISTORY = f"""WITH candidate AS (
    SELECT m.*, c.board_id, c.name AS card_name,
           COALESCE((s.old->>'creator_user_id')::bigint, c.creator_user_id) AS importer,
           {_list_json('fl')} AS from_data,
           {_list_json('tl')} AS to_data,
           EXISTS (SELECT 1 FROM action a WHERE a.card_id = m.card_id AND a.type = 'moveCard'
                   AND a.data->>'{MARKER}' = m.event) AS present
    FROM k2p_move m
    JOIN k2p_state st ON st.tbl = 'card' AND st.id = m.card_id AND st.state IN ('apply', 'already')
    JOIN card c ON c.id = m.card_id
    LEFT JOIN k2p_fixup_saved s ON s.tbl = 'card' AND s.id = c.id AND s.op = 'update'
    JOIN list fl ON fl.id = m.from_list AND fl.board_id = c.board_id
    JOIN list tl ON tl.id = m.to_list AND tl.board_id = c.board_id),
inserted AS (
    INSERT INTO action (card_id, board_id, user_id, type, data, created_at)
    SELECT card_id, board_id, COALESCE(user_id, importer), 'moveCard',
           jsonb_build_object('card', jsonb_build_object('name', card_name), 'fromList', from_data,
                              'toList', to_data, '{MARKER}', event), created_at
    FROM candidate WHERE NOT present ORDER BY created_at, event
    RETURNING id, data),
kept AS (
    INSERT INTO k2p_fixup_saved (tbl, id, op, old, new)
    SELECT 'action', id, 'insert', 'null'::jsonb, data FROM inserted RETURNING 1)
INSERT INTO k2p_summary VALUES ('action (moveCard history)', (SELECT count(*) FROM inserted),
    (SELECT count(*) FROM candidate WHERE present),
    (SELECT count(*) FROM k2p_move) - (SELECT count(*) FROM candidate), 0);"""


def _window(ledger: LedgerView) -> str:
    """The import runs' time window, as an SQL ``BETWEEN`` operand."""
    return f"{literal(ledger.low_water)}::timestamp AND {literal(ledger.high_water)}::timestamp"


def _delete_saved(table: str, condition: str, what: str) -> str:
    """Delete the imported cards' rows of ``table`` (alias ``r``) matching ``condition``, saving
    each whole row for the undo, and count them in the summary as ``what``."""
    return f"""WITH gone AS (
    DELETE FROM {table} r
    WHERE {condition} AND r.card_id IN (SELECT id FROM k2p_target WHERE tbl = 'card')
    RETURNING r.*),
kept AS (
    INSERT INTO k2p_fixup_saved (tbl, id, op, old, new)
    SELECT '{table}', g.id, 'delete', to_jsonb(g), 'null'::jsonb FROM gone g
    ON CONFLICT (tbl, id) DO NOTHING RETURNING 1)
INSERT INTO k2p_summary VALUES ('{what}', (SELECT count(*) FROM gone), 0, 0, 0);"""


def _import_actions(ledger: LedgerView) -> str:
    """Activity the import itself wrote on imported cards records the import, not the team's
    history: the members' "joined this card" entries are removed, and the move of an archived
    card into the archive list gets the card's last Kaiten move time. Both are saved for undo."""
    removed = _delete_saved("action", f"r.type = 'addMemberToCard' AND r.created_at BETWEEN {_window(ledger)}",
                            "action (addMemberToCard by the import, removed)")
    return removed + f"""
WITH archived AS (
    SELECT a.id, a.created_at AS old_at, a.user_id, t.list_changed_at AS new_at
    FROM action a JOIN k2p_target t ON t.tbl = 'card' AND t.id = a.card_id
    JOIN k2p_state st ON st.tbl = 'card' AND st.id = t.id AND st.state IN ('apply', 'already')
    WHERE a.type = 'moveCard' AND a.data->'toList'->>'type' = 'archive' AND NOT a.data ? '{MARKER}'
      AND a.created_at BETWEEN {_window(ledger)} AND t.list_changed_at IS NOT NULL),
kept AS (
    INSERT INTO k2p_fixup_saved (tbl, id, op, old, new)
    SELECT 'action', id, 'update', jsonb_build_object('created_at', old_at, 'user_id', user_id),
           jsonb_build_object('created_at', new_at, 'user_id', user_id) FROM archived
    ON CONFLICT (tbl, id) DO NOTHING RETURNING 1),
moved AS (
    UPDATE action a SET created_at = archived.new_at FROM archived WHERE a.id = archived.id RETURNING 1)
INSERT INTO k2p_summary VALUES ('action (archive move by the import, dated)', (SELECT count(*) FROM moved),
    0, 0, 0);"""


def _notifications(ledger: LedgerView) -> str:
    people = "{" + ",".join(str(person) for person in ledger.created_people) + "}"
    return _delete_saved("notification", f"r.user_id = ANY ({literal(people)}::bigint[]) "
                                         f"AND r.created_at BETWEEN {_window(ledger)}",
                         "notification (import-caused, deleted)")


def _sso(ledger: LedgerView) -> str:
    people = literal("{" + ",".join(str(person) for person in ledger.sso_people) + "}")
    return f"""WITH changed AS (
    UPDATE user_account r SET is_sso_user = true
    WHERE r.id = ANY ({people}::bigint[]) AND NOT r.is_sso_user
    RETURNING r.id),
kept AS (
    INSERT INTO k2p_fixup_saved (tbl, id, op, old, new)
    SELECT 'user_account', id, 'update', '{{"is_sso_user": false}}'::jsonb, '{{"is_sso_user": true}}'::jsonb
    FROM changed ON CONFLICT (tbl, id) DO NOTHING RETURNING 1)
INSERT INTO k2p_summary VALUES ('user_account (is_sso_user, --sso)', (SELECT count(*) FROM changed),
    (SELECT count(*) FROM user_account WHERE id = ANY ({people}::bigint[])) - (SELECT count(*) FROM changed),
    0, 0);"""


def _preamble(header: str) -> Iterator[str]:
    names = ", ".join(f'"{name}"' for name in [*(table.name for table in UPDATED), "notification"])
    yield header
    yield QUIET
    yield f"SET LOCAL lock_timeout = '60s';\nLOCK TABLE {names} IN EXCLUSIVE MODE;"
    yield SAVED_DDL


def fixup_script(targets: Sequence[Target], moves: Sequence[Move], ledger: LedgerView,
                 header: str) -> Iterator[str]:
    """The fix-up, one statement (or comment) at a time."""
    yield from _preamble(header)
    yield TEMP_TABLES
    yield "-- Target values: one row per ledger object with a Kaiten record (times are UTC)."
    yield from _values("k2p_target", ((row.table, row.id, row.parent_id, row.seen_created, row.created_at,
                                       row.updated_at, row.user_id, row.list_changed_at) for row in targets))
    if moves:
        yield "-- Kaiten location history: moves between imported lists of the card's board."
        yield from _values("k2p_move", ((move.event, move.card_id, move.from_list, move.to_list, move.user_id,
                                         move.created_at) for move in moves))
    yield "ANALYZE k2p_target;\n-- Classify every targeted row once, before anything changes."
    yield from (_classify(table, ledger.high_water) for table in TABLES)
    yield _classify_actions(ledger.high_water)
    yield "ANALYZE k2p_state;"
    yield SUMMARY
    if moves:
        yield HISTORY
    yield _import_actions(ledger)
    if ledger.created_people:
        yield _notifications(ledger)
    if ledger.sso_people:
        yield _sso(ledger)
    yield "-- Save the previous values, then update (one guarded statement per table)."
    yield from (_apply(table) for table in UPDATED)
    yield REPORT


def _undo(tbl: str, op: str, change: str, row: str) -> str:
    """One undo step: ``change`` (a data-modifying statement on the table aliased ``row``) handles
    saved rows of ``(tbl, op)``; the saved rows it handled are forgotten and counted."""
    return f"""WITH handled AS (
    {change}
    RETURNING {row}.id),
forgotten AS (
    DELETE FROM k2p_fixup_saved s USING handled
    WHERE s.tbl = '{tbl}' AND s.op = '{op}' AND s.id = handled.id RETURNING 1)
INSERT INTO k2p_undo_summary SELECT '{tbl}', '{op}', (SELECT count(*) FROM handled);"""


def _restore(table: Table) -> str:
    restore = ",\n        ".join(f"{column.name} = (s.old->>'{column.name}')::{column.type}"
                                for column in table.columns)
    return _undo(table.name, "update", f"""UPDATE "{table.name}" r SET
        {restore}
    FROM k2p_fixup_saved s
    WHERE s.tbl = '{table.name}' AND s.op = 'update' AND s.id = r.id
      AND {_current(table)} = s.new""", "r")


UNDO_REPORT = f"""SELECT format('k2p-undo: %s %s restored=%s left=%s', u.tbl, u.op, u.restored,
              (SELECT count(*) FROM k2p_fixup_saved s WHERE s.tbl = u.tbl AND s.op = u.op))
       AS "k2p undo summary"
FROM k2p_undo_summary u ORDER BY u.tbl, u.op;
SELECT format('k2p-undo: left alone %s %s %s (changed since the fix-up)', tbl, op, id) AS "rows left alone"
FROM k2p_fixup_saved ORDER BY tbl, id LIMIT {SHOWN};
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM k2p_fixup_saved) THEN DROP TABLE k2p_fixup_saved; END IF;
END $$;
DROP TABLE k2p_undo_summary;"""


def undo_script(header: str) -> Iterator[str]:
    """The undo: everything it needs is in ``k2p_fixup_saved``."""
    yield from _preamble(header)
    yield """DROP TABLE IF EXISTS k2p_undo_summary;
CREATE TEMP TABLE k2p_undo_summary (tbl text, op text, restored bigint);"""
    yield from (_restore(table) for table in (*UPDATED, SSO))
    yield _undo("action", "insert", f"""DELETE FROM action a USING k2p_fixup_saved s
    WHERE s.tbl = 'action' AND s.op = 'insert' AND a.id = s.id AND a.data ? '{MARKER}'""", "a")
    yield _undo("action", "delete", """INSERT INTO action
    SELECT (jsonb_populate_record(NULL::action, s.old)).* FROM k2p_fixup_saved s
    WHERE s.tbl = 'action' AND s.op = 'delete'
      AND NOT EXISTS (SELECT 1 FROM action a WHERE a.id = s.id)""", "action")
    yield _undo("notification", "delete", """INSERT INTO notification
    SELECT (jsonb_populate_record(NULL::notification, s.old)).* FROM k2p_fixup_saved s
    WHERE s.tbl = 'notification' AND s.op = 'delete'
      AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.id = s.id)""", "notification")
    yield UNDO_REPORT
