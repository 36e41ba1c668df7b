"""Storage cost benchmark: what one REST webhook turn costs the database, and one event's bytes.

The measured half of SCALING.md. Trains initbot into a temporary folder, creates the
PostgreSQL database ``convapi_bench_storage`` and migrates it (``bench/turns.py``'s
``prepare``), then for each lock store (the database lease, Redis) starts gunicorn
(2 workers x 4 threads, ``turns.Server``) and drives real turns over HTTP, one client,
32 conversations of 7 to 21 turns of initbot's script at a time. Around the measured turns:

* the CPU of gunicorn (master and workers) and of this database's backends, from /proc,
  sampled so that backends Django recycles (``CONN_MAX_AGE``) still count;
* ``pg_stat_database``: transactions, tuples, time in statements and idle in a transaction
  (read after the server stopped: a backend flushes its statistics when it exits);
* ``pg_stat_user_tables``: rows inserted, updated (HOT), deleted and scans, per table;
* this database's WAL records, by table and index (``pg_walinspect``; a temporary
  replication slot keeps the WAL until it is read).

pg_stat_statements needs a server restart to load, so statements are counted in this process
instead: the same turns through Django's test client, every statement seen by an execute
wrapper, commits and connection health checks by wrapping the connection's methods.

Last, after ``VACUUM ANALYZE``: bytes per stored event and per conversation (table, indexes
and TOAST from ``pg_total_relation_size`` and ``pg_indexes_size``), each index, each event
type, and the events' size as gzipped JSON lines (an archive). Prints Markdown tables; the
database is dropped at the end.

    .venv/bin/python bench/storage_cost.py [--turns 3000] [--count-turns 420]
        [--lock-stores database,redis]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import random
import re
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import turns  # bench/turns.py: prepare, Server, SCRIPT and the /proc helpers

DB_NAME = "convapi_bench_storage"
DB_URL = turns.PG + DB_NAME
REDIS_URL = "redis://127.0.0.1:6379/0"
APPLICATION = "bench/storage_cost.py"
TICKS = os.sysconf("SC_CLK_TCK")
# Counters of pg_stat_database read before and after the measured turns.
DB_COUNTERS = (
    "xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted",
    "tup_updated", "tup_deleted", "blks_read", "blks_hit", "active_time",
    "idle_in_transaction_time",
)  # fmt: skip
TABLE_COUNTERS = ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del", "seq_scan", "idx_scan")


# -- one conversation set ---------------------------------------------------------------
def conversation_script(
    prefix: str, turn_count: int, seed: int, active: int = 32
) -> Iterator[tuple[str, str]]:
    """(sender, text) for ``turn_count`` turns of conversations of 1 to 3 passes of SCRIPT.

    ``active`` conversations take turns round robin, as many users do: their events land
    interleaved in the log and its indexes, not one conversation after another.
    """
    rng = random.Random(seed)
    numbers = itertools.count()

    def conversation() -> tuple[str, Iterator[str]]:
        length = len(turns.SCRIPT) * rng.randint(1, 3)
        return f"{prefix}-{next(numbers)}", iter((turns.SCRIPT * 3)[:length])

    live = [conversation() for _ in range(active)]
    for number in range(turn_count):
        sender, texts = live[number % active]
        text = next(texts, None)
        if text is None:
            live[number % active] = sender, texts = conversation()
            text = next(texts)
        yield sender, text


# -- what the server side costs, from PostgreSQL's counters and /proc --------------------
def cpu_ms(pid: int) -> float | None:
    """User + system CPU of a process (all its threads) so far, in ms; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / TICKS  # utime, stime


class CpuSampler(threading.Thread):
    """The CPU used by a changing set of processes, sampled every 0.2 s.

    Django closes a connection older than CONN_MAX_AGE (60 s) at a request's end, so the
    backends serving a long run come and go: each keeps the CPU of its last sample.
    """

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.sample()
        self.first = dict(self.last)

    def sample(self) -> None:
        for pid in self.pids():
            cpu = cpu_ms(pid)
            if cpu is not None:
                self.last[pid] = cpu

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.sample()

    def stop(self) -> float:
        """The CPU used since the sampler was made, in ms."""
        self.done.set()
        self.join()
        self.sample()
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


@dataclass
class Snapshot:
    """The counters at one moment; the difference of two is one run's cost."""

    database: dict[str, float] = field(default_factory=dict)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)
    wal_lsn: str = ""
    other_commits: int = 0


def snapshot(cursor: psycopg.Cursor) -> Snapshot:
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    columns = ", ".join(DB_COUNTERS)
    cursor.execute(f"SELECT {columns} FROM pg_stat_database WHERE datname = %s", [DB_NAME])
    database = dict(zip(DB_COUNTERS, cursor.fetchone(), strict=True))
    columns = ", ".join(TABLE_COUNTERS)
    cursor.execute(f"SELECT relname, {columns} FROM pg_stat_user_tables")
    tables = {name: dict(zip(TABLE_COUNTERS, rest, strict=True)) for name, *rest in cursor}
    # Every commit is flushed (synchronous_commit), so the flush position covers them all.
    cursor.execute("SELECT pg_current_wal_flush_lsn()::text")
    wal_lsn = cursor.fetchone()[0]
    cursor.execute(
        "SELECT coalesce(sum(xact_commit), 0) FROM pg_stat_database"
        " WHERE datname IS NOT NULL AND datname <> %s",
        [DB_NAME],
    )
    return Snapshot(database, tables, wal_lsn, int(cursor.fetchone()[0]))


# The WAL records of this database between two positions, by relation: those naming one of
# its blocks, and the commit records of the transactions that wrote them (pg_walinspect).
# Indexes are counted with their table, TOAST apart.
WAL_BY_RELATION = r"""
WITH records AS (
    SELECT xid::text AS xid, resource_manager, record_length, fpi_length,
           substring(block_ref FROM ' rel \d+/' || %(db)s || '/(\d+) ')::oid AS node
    FROM pg_get_wal_records_info(%(start)s::pg_lsn, %(end)s::pg_lsn)
), ours AS (
    SELECT DISTINCT xid FROM records WHERE node IS NOT NULL AND xid <> '0'
)
SELECT CASE WHEN r.node IS NULL THEN r.resource_manager || ' records'
            WHEN c.relkind = 't' THEN 'TOAST'
            ELSE coalesce(t.relname, 'other') || CASE WHEN x.indexrelid IS NULL
                 THEN ' (heap)' ELSE ' (indexes)' END END AS part,
       count(*), sum(r.record_length), sum(r.fpi_length)
FROM records r
LEFT JOIN pg_class c ON c.relfilenode = r.node
LEFT JOIN pg_index x ON x.indexrelid = c.oid
LEFT JOIN pg_class t ON t.oid = coalesce(x.indrelid, c.oid)
WHERE r.node IS NOT NULL OR r.xid IN (SELECT xid FROM ours)
GROUP BY 1 ORDER BY 3 DESC
"""


def wal_by_relation(cursor: psycopg.Cursor, start: str, end: str) -> list[tuple]:
    """(part, records, bytes, of them full-page-image bytes) of this database's WAL."""
    cursor.execute("SELECT oid::text FROM pg_database WHERE datname = %s", [DB_NAME])
    database_oid = cursor.fetchone()[0]
    cursor.execute(WAL_BY_RELATION, {"db": database_oid, "start": start, "end": end})
    return cursor.fetchall()


def backend_pids(cursor: psycopg.Cursor) -> list[int]:
    cursor.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name <> %s",
        [DB_NAME, APPLICATION],
    )
    return [pid for (pid,) in cursor]


def wait_for_backends_to_exit(cursor: psycopg.Cursor) -> None:
    """A backend flushes its statistics when it exits: wait for the server's to be gone."""
    for _ in range(100):
        if not backend_pids(cursor):
            return
        time.sleep(0.1)


@dataclass
class HttpRun:
    lock_store: str
    turns: int
    latencies: list[float]
    errors: int
    server_cpu_ms: float
    backend_cpu_ms: float
    before: Snapshot
    after: Snapshot
    wal: list[tuple]


def http_run(env: dict[str, str], lock_store: str, turn_count: int) -> HttpRun:
    """Real turns over HTTP against a fresh gunicorn, with the counters around them."""
    env = {**env, "CONVAPI_LOCK_STORE": REDIS_URL if lock_store == "redis" else ""}
    server = turns.Server(env)
    pids = BackendPids()
    with _connect() as connection, connection.cursor() as cursor:
        # A temporary slot keeps the run's WAL from being recycled until it is read; it
        # goes with this connection, whatever happens.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        cursor.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", [DB_NAME])
        try:
            server.wait_until_up()
            _warm_up(server, lock_store)
            # An idle backend that flushed less than 1 s ago flushes again only 10 s later
            # (PGSTAT_IDLE_INTERVAL): wait until every warm-up statistic has landed.
            time.sleep(11)
            gunicorn = CpuSampler(
                lambda: [server.process.pid, *turns._children(server.process.pid)]
            )
            backends = CpuSampler(pids)
            before = snapshot(cursor)
            gunicorn.start()
            backends.start()
            server.errors = 0
            script = conversation_script(f"http-{lock_store}", turn_count, seed=1)
            latencies = [server.turn(sender, text) for sender, text in script]
            server_cpu, backend_cpu = gunicorn.stop(), backends.stop()
        finally:
            server.stop()
            pids.close()
        wait_for_backends_to_exit(cursor)
        after = snapshot(cursor)
        wal = wal_by_relation(cursor, before.wal_lsn, after.wal_lsn)
    return HttpRun(
        lock_store, turn_count, latencies, server.errors, server_cpu, backend_cpu,
        before, after, wal,
    )  # fmt: skip


class BackendPids:
    """This database's backends but ours, read on a connection shared under a lock."""

    def __init__(self) -> None:
        self.connection = _connect()
        self.lock = threading.Lock()

    def __call__(self) -> list[int]:
        with self.lock:
            return backend_pids(self.connection.cursor())

    def close(self) -> None:
        self.connection.close()


def _connect() -> psycopg.Connection:
    """A connection of this script, named so that it is never counted as the server's."""
    return psycopg.connect(DB_URL, autocommit=True, application_name=APPLICATION)


def _warm_up(server: turns.Server, lock_store: str) -> None:
    """Load the model in both workers and open a connection in each of their 8 threads."""
    from concurrent.futures import ThreadPoolExecutor

    def talk(client: int) -> None:
        for sender, text in conversation_script(
            f"warm-{lock_store}-{client}", 14, client, active=1
        ):
            server.turn(sender, text)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(talk, range(8)))


# -- statements, counted in this process ---------------------------------------------------
@dataclass
class Tally:
    """What the database was asked during some turns of one kind."""

    turns: int = 0
    kinds: Counter = field(default_factory=Counter)
    commits: int = 0
    statement_ms: float = 0.0

    def round_trips(self) -> int:
        """Statements plus the BEGIN and COMMIT psycopg sends for each explicit transaction."""
        return sum(self.kinds.values()) + 2 * self.commits


@dataclass
class StatementCount:
    lock_store: str
    first: Tally = field(default_factory=Tally)  # a conversation's first turn
    later: Tally = field(default_factory=Tally)
    sample: list[str] = field(default_factory=list)  # one later turn's statements, in order


HEALTH_CHECK = "SELECT 1 (health check)"


def count_statements(lock_store: str, turn_count: int) -> StatementCount:
    """The same turns through Django's test client, every database call counted.

    The test client skips the request signals that close stale connections; they are sent
    here, so each request starts as under gunicorn (health check included).
    """
    from django.db import close_old_connections, connection
    from django.test import Client, override_settings

    count = StatementCount(lock_store)
    tally, recording = count.later, False

    def wrapper(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            tally.statement_ms += (time.perf_counter() - started) * 1000
            tally.kinds[sql.split(None, 1)[0].upper()] += 1
            if recording:
                count.sample.append(_describe(sql))

    def counted_commit() -> None:
        tally.commits += 1
        if recording:
            count.sample.append("COMMIT")
        commit()

    def counted_is_usable() -> bool:
        tally.kinds[HEALTH_CHECK] += 1
        if recording:
            count.sample.append(HEALTH_CHECK)
        return is_usable()

    client = Client()
    store = REDIS_URL if lock_store == "redis" else ""
    seen: set[str] = set()
    with override_settings(CONVAPI_LOCK_STORE=store):
        _post(client, "warm-count", "hello")  # loads the model in this process
        commit, is_usable = connection._commit, connection.is_usable
        connection._commit, connection.is_usable = counted_commit, counted_is_usable
        try:
            with connection.execute_wrapper(wrapper):
                for sender, text in conversation_script(f"count-{lock_store}", turn_count, 2, 4):
                    tally = count.later if sender in seen else count.first
                    recording = sender in seen and not count.sample
                    seen.add(sender)
                    tally.turns += 1
                    close_old_connections()
                    _post(client, sender, text)
                    recording = False
        finally:
            del connection._commit, connection.is_usable
    return count


def _post(client: Any, sender: str, text: str) -> None:
    body = {"sender": sender, "message": text}
    response = client.post("/webhooks/rest/webhook", body, "application/json")
    assert response.status_code == 200, response.content[:200]


def _describe(sql: str) -> str:
    """A statement in one short line: its kind, table, rows and condition, no column lists."""
    kind = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    where = re.search(r"\sWHERE\s(.*?)(?:\sORDER BY|\sLIMIT|\sRETURNING|$)", sql, re.S)
    text = kind + (f" {table.group(1)}" if table else "")
    if kind == "INSERT":
        text += f" ({sql.count('), (') + 1} rows)"
    if where:
        text += " WHERE " + re.sub(r"\s+", " ", where.group(1).replace('"', ""))[:90]
    if kind in ("SAVEPOINT", "RELEASE"):
        text = kind
    return text


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process for the bench database (as bench/turns.py does)."""
    import django

    os.environ.update(DATABASE_URL=env["DATABASE_URL"], CONVAPI_MODEL=env["CONVAPI_MODEL"])
    os.environ.update(CONVAPI_AUTH_TOKEN="", CONVAPI_JWT_SECRET="", CONVAPI_LOG_LEVEL="WARNING")
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


# -- storage -------------------------------------------------------------------------------
RELATION_SIZES = """
SELECT c.relname, c.reltuples::bigint,
       pg_relation_size(c.oid, 'main'),
       pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm'),
       pg_indexes_size(c.oid),
       coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0),
       pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname LIKE 'trackers_%'
ORDER BY pg_total_relation_size(c.oid) DESC
"""
INDEXES = """
SELECT t.relname, i.relname, pg_relation_size(i.oid), pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
WHERE t.relname IN ('trackers_event', 'trackers_conversation')
ORDER BY t.relname DESC, pg_relation_size(i.oid) DESC
"""
EVENT_TYPES = """
SELECT type_name, count(*), avg(pg_column_size(e.*)), avg(pg_column_size(data)),
       avg(octet_length(data::text))
FROM trackers_event e GROUP BY type_name ORDER BY count(*) DESC
"""

CONVERSATION_ROWS = """
SELECT avg(pg_column_size(c.*)), avg(pg_column_size(state)), avg(octet_length(state::text))
FROM trackers_conversation c
"""


def storage_tables(cursor: psycopg.Cursor) -> list[str]:
    cursor.execute("VACUUM ANALYZE")  # settles GIN pending lists, counts rows, builds maps
    cursor.execute(RELATION_SIZES)
    relations = cursor.fetchall()
    events = next(row[1] for row in relations if row[0] == "trackers_event")
    conversations = next(row[1] for row in relations if row[0] == "trackers_conversation")
    lines = [
        f"Stored: {events:,} events in {conversations:,} conversations "
        f"({events / conversations:.1f} events each), after VACUUM ANALYZE.",
        "",
        "| table | rows | heap | fsm+vm | indexes | TOAST | total | bytes per row |"
        " bytes per event |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows, heap, maps, indexes, toast, total in relations:
        if total > 8192 * 4 or rows:
            per_row = f"{total / rows:,.0f}" if rows else ""
            lines.append(
                f"| {name} | {rows:,} | {_kb(heap)} | {_kb(maps)} | {_kb(indexes)} | {_kb(toast)}"
                f" | {_kb(total)} | {per_row} | {total / events:,.0f} |"
            )
    lines += ["", "| table | index | size | bytes per row | bytes per event | definition |"]
    lines.append("|---|---|---:|---:|---:|---|")
    cursor.execute(INDEXES)
    for table, name, size, definition in cursor.fetchall():
        rows = events if table == "trackers_event" else conversations
        using = definition.split(" USING ", 1)[1]
        lines.append(
            f"| {table} | {name} | {_kb(size)} | {size / rows:,.1f} | {size / events:,.1f}"
            f" | `{using}` |"
        )
    lines += [
        "",
        "| event type | share | avg row bytes | avg `data` bytes stored | avg JSON text bytes |",
    ]
    lines.append("|---|---:|---:|---:|---:|")
    cursor.execute(EVENT_TYPES)
    for type_name, count, row_bytes, data_bytes, text_bytes in cursor:
        lines.append(
            f"| {type_name} | {count / events:.0%} | {row_bytes:,.0f} | {data_bytes:,.0f}"
            f" | {text_bytes:,.0f} |"
        )
    lines += ["", archive_line(cursor, events)]
    cursor.execute(CONVERSATION_ROWS)
    row_bytes, state_bytes, state_text = cursor.fetchone()
    lines += [
        "",
        f"A conversation row holds {row_bytes:,.0f} bytes live, of which the tracker snapshot"
        f" (`state`) {state_bytes:,.0f} stored ({state_text:,.0f} as JSON text); the rest of"
        " the table's bytes per row is space freed by its per-turn UPDATEs, reused by later ones.",
    ]
    return lines


def archive_line(cursor: psycopg.Cursor, events: int) -> str:
    """What the events take once archived: JSON lines, one event a line, one gzip file per
    500 conversations (gzip's default level), measured rather than assumed."""
    cursor.execute(
        "SELECT conversation_id, data::text FROM trackers_event ORDER BY conversation_id, seq"
    )
    files: list[list[str]] = [[]]
    last, count = None, 0
    for conversation_id, data in cursor:
        if conversation_id != last:
            last, count = conversation_id, count + 1
            if count % 500 == 1 and files[-1]:
                files.append([])
        files[-1].append(data + "\n")
    text = sum(len(line.encode()) for lines in files for line in lines)
    compressed = sum(len(gzip.compress("".join(lines).encode())) for lines in files)
    return (
        f"Archived as JSON lines (one event a line, gzipped by 500 conversations):"
        f" {text / events:,.0f} bytes of JSON per event, {compressed / events:,.0f} gzipped"
        f" ({text / compressed:.1f}x smaller)."
    )


def _kb(size: int) -> str:
    return f"{size / 1024:,.0f} kB"


# -- the report ------------------------------------------------------------------------------
def per_turn_table(runs: list[HttpRun]) -> list[str]:
    header = " | ".join(f"lock store: {run.lock_store}" for run in runs)
    lines = [f"| per REST webhook turn, over HTTP | {header} |", "|---|" + "---:|" * len(runs)]

    def line(label: str, value: Callable[[HttpRun], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(value(run) for run in runs) + " |")

    def db(run: HttpRun, name: str) -> float:
        return (run.after.database[name] - run.before.database[name]) / run.turns

    def others(run: HttpRun) -> str:
        commits = run.after.other_commits - run.before.other_commits
        return f"{commits:,}" if commits >= 0 else "n/a (a database was dropped)"

    line("turns measured (errors)", lambda r: f"{r.turns:,} ({r.errors})")
    line("turn latency p50 / p95, ms", lambda r: _p50_p95(r.latencies))
    line("web CPU, ms (gunicorn master + workers)", lambda r: f"{r.server_cpu_ms / r.turns:.2f}")
    line("PostgreSQL backend CPU, ms", lambda r: f"{r.backend_cpu_ms / r.turns:.2f}")
    line("time in statements, ms (`active_time`)", lambda r: f"{db(r, 'active_time'):.2f}")
    line("idle in transaction, ms", lambda r: f"{db(r, 'idle_in_transaction_time'):.2f}")
    line("transactions (`xact_commit`)", lambda r: f"{db(r, 'xact_commit'):.2f}")
    line("rows inserted", lambda r: f"{db(r, 'tup_inserted'):.2f}")
    line("rows updated", lambda r: f"{db(r, 'tup_updated'):.2f}")
    line("rows deleted", lambda r: f"{db(r, 'tup_deleted'):.2f}")
    line(
        "rows read (returned + fetched)",
        lambda r: f"{db(r, 'tup_returned') + db(r, 'tup_fetched'):.1f}",
    )
    line("buffer reads (hit + disk)", lambda r: f"{db(r, 'blks_hit') + db(r, 'blks_read'):.1f}")
    line("WAL bytes of this database (pg_walinspect)", lambda r: f"{_wal(r, 2):,.0f}")
    line("of them full-page images", lambda r: f"{_wal(r, 3):,.0f}")
    line("WAL records", lambda r: f"{_wal(r, 1):.1f}")
    line("other databases' commits in the window", others)
    return lines


def _wal(run: HttpRun, column: int) -> float:
    return sum(part[column] for part in run.wal) / run.turns


def wal_table(runs: list[HttpRun]) -> list[str]:
    """WAL bytes per turn by what they changed: each table's heap, its indexes, commits."""
    lines = ["| lock store | written to | records | bytes | of them full-page images |"]
    lines.append("|---|---|---:|---:|---:|")
    for run in runs:
        for part, records, size, images in run.wal:
            lines.append(
                f"| {run.lock_store} | {part} | {records / run.turns:.2f}"
                f" | {size / run.turns:,.0f} | {images / run.turns:,.0f} |"
            )
    return lines


def statement_table(counts: list[StatementCount]) -> list[str]:
    """Statements per turn by kind, for a conversation's first turn and for a later one."""
    columns = [
        (count.lock_store, name, getattr(count, name))
        for count in counts
        for name in ("first", "later")
    ]
    header = " | ".join(f"{store}: {name} turn" for store, name, _ in columns)
    lines = [f"| statements per turn, in-process | {header} |", "|---|" + "---:|" * len(columns)]

    def line(label: str, value: Callable[[Tally], float], digits: int = 2) -> None:
        cells = [f"{value(tally) / max(tally.turns, 1):.{digits}f}" for _, _, tally in columns]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    lines.append("| turns counted | " + " | ".join(f"{t.turns}" for _, _, t in columns) + " |")
    for kind in sorted({kind for _, _, tally in columns for kind in tally.kinds}):
        line(kind, lambda t, kind=kind: t.kinds[kind])
    line("BEGIN + COMMIT (explicit transactions)", lambda t: 2 * t.commits)
    line("all: round trips to the database", Tally.round_trips)
    line("statement time seen by the client, ms", lambda t: t.statement_ms)
    for count in counts:
        lines += ["", f"One later turn, lock store {count.lock_store}:", "", "```"]
        lines += [*count.sample, "```"]
    return lines


def rows_by_table(runs: list[HttpRun]) -> list[str]:
    lines = [
        "| lock store | table | inserted | updated (HOT) | deleted | index scans | seq scans |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for name, after in sorted(run.after.tables.items()):
            before = run.before.tables.get(name, dict.fromkeys(TABLE_COUNTERS, 0))
            delta = {
                key: ((after[key] or 0) - (before[key] or 0)) / run.turns for key in TABLE_COUNTERS
            }
            if any(delta.values()):
                lines.append(
                    f"| {run.lock_store} | {name} | {delta['n_tup_ins']:.2f}"
                    f" | {delta['n_tup_upd']:.2f} ({delta['n_tup_hot_upd']:.2f})"
                    f" | {delta['n_tup_del']:.2f}"
                    f" | {delta['idx_scan']:.2f} | {delta['seq_scan']:.2f} |"
                )
    return lines


def _p50_p95(samples: list[float]) -> str:
    p50, p95, _ = turns.percentiles(samples)
    return f"{p50:.1f} / {p95:.1f}"


def report(
    where: str, runs: list[HttpRun], counts: list[StatementCount], storage: list[str]
) -> None:
    print(f"({where})\n")
    print("### Per turn\n")
    print("\n".join(per_turn_table(runs)))
    print("\n### WAL per turn, by what it changed\n")
    print("\n".join(wal_table(runs)))
    print("\n### Statements per turn\n")
    print("\n".join(statement_table(counts)))
    print("\n### Rows written and scans per turn, by table\n")
    print("\n".join(rows_by_table(runs)))
    print("\n### Bytes per stored event\n")
    print("\n".join(storage))


def _where_measured() -> str:
    """The commit measured (and whether the tree had changes), and how busy the machine was."""
    git = ["git", "-C", str(turns.ROOT)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    state = "with uncommitted changes" if dirty.stdout.strip() else "clean"
    load = " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"commit {commit.stdout.strip()} ({state}), {now}, load average {load} at the start"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=3000, help="HTTP turns per lock store")
    parser.add_argument("--count-turns", type=int, default=420, help="turns counted in-process")
    parser.add_argument("--lock-stores", default="database,redis")
    args = parser.parse_args()
    stores = args.lock_stores.split(",")
    turns.DB_NAME = DB_NAME  # prepare() and the drop below read the module's name
    where = _where_measured()
    with tempfile.TemporaryDirectory(prefix="convapi-bench-storage-") as models:
        env, _ = turns.prepare(Path(models))
        try:
            runs = [http_run(env, store, args.turns) for store in stores]
            setup_django(env)
            counts = [count_statements(store, args.count_turns) for store in stores]
            with _connect() as connection:
                storage = storage_tables(connection.cursor())
            report(where, runs, counts, storage)
        finally:
            turns._close_django()
            turns._psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
