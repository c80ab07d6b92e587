"""Reminder benchmark: 10,000 follow-ups falling due at once across 500 agents, sent by real
Celery workers through the loopback Twilio stand-in on PostgreSQL; then the dispatcher's query
with 1,000,000 appointments in the table.

    .venv/bin/python bench/reminders_bench.py                    # beat-like: the task, every 0.5 s
    .venv/bin/python bench/reminders_bench.py --direct --limit 1000   # call the function itself
    .venv/bin/python bench/reminders_bench.py --skip-drain       # only the 1M-row query figures

Phase 1 (drain). A fresh schema (TemporarySchema on TEST_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrated; 500 agents in five US zones, 4
leads each, 10,000 scheduled appointments due within the last minute, each with a unique title
(`bench-000123 ...`), which every reminder text contains. Two real `celery worker` processes
(prefork, concurrency 1 each, their own process groups) send through TwilioStandIn. The bench
plays beat: every `--interval` s, while something is unreminded, it queues
`workers.tasks.dispatch_reminders` (which runs `dispatch_due_reminders` with its fixed limit of
200), or with `--direct` it calls `dispatch_due_reminders(limit=--limit)` itself and queues each
text with `enqueue_send`. Figures: time to drain (first dispatch → last text accepted by the
stand-in), reminders/s, duplicates (texts at the stand-in per appointment beyond one: must be
0) and misses (appointments not reminded, texts not `sent`, or titles the stand-in never got:
must be 0).

Quiet hours are made irrelevant (QUIET_HOURS_START = QUIET_HOURS_END = 00:00, an empty window)
so that the figures do not depend on the hour the bench is run at in the agents' zones.

Phase 2 (1M rows). About 1,000,000 more appointments (done, cancelled, reminded but still
outstanding, scheduled in the future) plus `--due-at-1m` due now are inserted with
`INSERT ... SELECT generate_series`, then ANALYZE. The exact statement `dispatch_due_reminders`
issues is captured from SQLAlchemy (the call is aborted before it runs, nothing is claimed) and
run under EXPLAIN (ANALYZE, BUFFERS): the plan is printed and it must read `appointments`
through an index, never a Seq Scan. For comparison the bench then adds, in its own throwaway
schema only, a partial index on due_at WHERE state = 'scheduled' AND reminded_at IS NULL and
measures again; and it times one real dispatch at 1M rows, with the per-agent queries it issues.

Redis database 4 (`REMINDERS_BENCH_REDIS_URL`) is emptied at the start and the end: it must be
nobody else's. Exit status 1 on a duplicate, a miss, or a sequential scan of appointments.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from db import migrate  # noqa: E402
from tests.support.databases import TemporarySchema  # noqa: E402
from tests.support.twilio_standin import TwilioStandIn  # noqa: E402
from webapp.app import create_app  # noqa: E402
from webapp.database import get_db  # noqa: E402

CELERY = REPO / ".venv" / "bin" / "celery"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_REDIS_URL = os.environ.get("REMINDERS_BENCH_REDIS_URL", "redis://localhost:6379/4")
ACCOUNT_SID = "AC" + "5e" * 16
AUTH_TOKEN = "reminders-bench-token"
ASSISTANT_NUMBER = "+13125550000"
# (IANA zone, an area code there): agents are spread round-robin over these.
ZONES = (
    ("America/New_York", "212"),
    ("America/Chicago", "312"),
    ("America/Denver", "303"),
    ("America/Phoenix", "602"),
    ("America/Los_Angeles", "213"),
)
TITLE = re.compile(r"bench-(\d{6})")
PRODUCTION_INTERVAL = 30  # REMINDER_INTERVAL_SECONDS' default: how often beat dispatches
TASK_LIMIT = 200  # dispatch_due_reminders' default limit, which the beat task uses


# --- the stand-in, with the time of each accepted text ---------------------------------------


@dataclass
class TimedStandIn(TwilioStandIn):
    """TwilioStandIn that notes when each text was accepted, answers without Nagle's delay,
    and can add a fixed latency per accepted text (`latency`, seconds) like the real API's.

    TCP_NODELAY: http.server writes the headers and the body in two segments; with Nagle on,
    the body waits for the client's delayed ACK, about 40 ms per request on loopback, which
    would make the stand-in, not Fieldline, the bottleneck (45 ms vs 1.2 ms per send measured).
    """

    accepted_at: list[float] = field(default_factory=list)
    latency: float = 0.0

    handler_class = type(
        "NoDelayHandler", (TwilioStandIn.handler_class,), {"disable_nagle_algorithm": True}
    )

    def _accept(self, account: str, form: dict[str, str], auth: tuple[str, str]) -> dict[str, Any]:
        resource = super()._accept(account, form, auth)
        with self._lock:
            self.accepted_at.append(time.monotonic())
        if self.latency:
            time.sleep(self.latency)
        return resource


# --- worker processes ------------------------------------------------------------------------


class Workers:
    """`celery worker` processes, each the leader of its own process group."""

    def __init__(self, env: dict[str, str], log_dir: Path, count: int, concurrency: int) -> None:
        self.env = {**os.environ, **env}
        self.log_dir = log_dir
        self.count = count
        self.concurrency = concurrency
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        for index in range(self.count):
            with open(self.log_dir / f"worker{index}.log", "ab") as log:
                self.procs.append(subprocess.Popen(
                    [str(CELERY), "-A", "workers", "worker", "--pool", "prefork",
                     "--concurrency", str(self.concurrency), "-Q", "celery",
                     "--loglevel", "WARNING", "-n", f"remindersbench{index}@%h",
                     "--without-gossip", "--without-mingle", "--without-heartbeat"],
                    cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                ))

    def wait_ready(self, celery_app: Any, timeout: float = 60.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if any(proc.poll() is not None for proc in self.procs):
                raise RuntimeError("a worker exited at start-up:\n" + self.logs())
            if len(celery_app.control.ping(timeout=0.5)) >= self.count:
                return time.monotonic() - started
        raise RuntimeError("workers not ready in time:\n" + self.logs())

    def stop(self) -> None:
        """SIGTERM each process group (warm shutdown), SIGKILL what is left after 10 s."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:  # the group: pool children outliving their parent too
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        self.procs = []

    def logs(self, tail: int = 3000) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
                         for path in sorted(self.log_dir.glob("worker*.log")))


def worker_env(database_url: str, twilio_url: str) -> dict[str, str]:
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": BENCH_REDIS_URL,
        "CELERY_BROKER_URL": "",
        "SMS_SENDER": "twilio",
        "TWILIO_API_BASE_URL": twilio_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": ASSISTANT_NUMBER,
        "TWILIO_TIMEOUT": "10",
        "PUBLIC_BASE_URL": "",
        "QUIET_HOURS_START": "00:00",  # an empty window: no reminder is held
        "QUIET_HOURS_END": "00:00",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def app_settings(env: dict[str, str]) -> dict[str, Any]:
    return {**env, "TESTING": True, "CELERY_BROKER_URL": None, "TWILIO_TIMEOUT": 10.0}


# --- data --------------------------------------------------------------------------------------


def seed(engine: Any, agents: int, leads_per_agent: int, due: int, now: datetime) -> None:
    """Agents, leads, and `due` scheduled follow-ups due in the last minute (unique titles)."""
    zones = "ARRAY[" + ", ".join(f"'{zone}'" for zone, _ in ZONES) + "]"
    areas = "ARRAY[" + ", ".join(f"'{area}'" for _, area in ZONES) + "]"
    n = len(ZONES)
    with engine.begin() as conn:
        conn.execute(text(f"""
            INSERT INTO users (id, name, phone, timezone, opted_out, created_at)
            SELECT g, 'Agent ' || g,
                   '+1' || ({areas})[1 + g % {n}] || '555' || lpad((1000 + g)::text, 4, '0'),
                   ({zones})[1 + g % {n}], false, :now
            FROM generate_series(1, :agents) AS g"""), {"agents": agents, "now": now})
        conn.execute(text("""
            INSERT INTO leads (id, agent_id, name, phone, status, created_at, updated_at)
            SELECT (a - 1) * :per + k, a, 'Lead ' || a || '-' || k,
                   '+1312' || (2000000 + (a - 1) * :per + k)::text, 'new', :now, :now
            FROM generate_series(1, :agents) AS a, generate_series(1, :per) AS k"""),
            {"agents": agents, "per": leads_per_agent, "now": now})
        conn.execute(text("""
            INSERT INTO appointments (lead_id, agent_id, title, due_at, state, reminder_late,
                                      channel, created_at, updated_at)
            SELECT ((i - 1) % :agents) * :per + 1 + ((i - 1) / :agents) % :per,
                   1 + (i - 1) % :agents,
                   'bench-' || lpad(i::text, 6, '0') || ' send the contract',
                   :now - (i % 60) * interval '1 second', 'scheduled', false, 'sms', :now, :now
            FROM generate_series(1, :due) AS i"""),
            {"agents": agents, "per": leads_per_agent, "due": due, "now": now})
        for table in ("users", "leads"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE users; ANALYZE leads; ANALYZE appointments"))


def insert_history(engine: Any, rows: int, due_now: int, agents: int, per: int,
                   now: datetime) -> float:
    """`rows` appointments that are not due (55% done, 10% cancelled, 15% reminded and still
    outstanding, 20% scheduled over the next 90 days), every agent getting the same mix, and
    `due_now` that are due; seconds taken."""
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("""
            INSERT INTO appointments (lead_id, agent_id, title, due_at, state, reminded_at,
                                      reminder_number, reminder_late, channel,
                                      created_at, updated_at)
            SELECT ((i - 1) % :agents) * :per + 1 + ((i - 1) / :agents) % :per,
                   1 + (i - 1) % :agents,
                   'history ' || i,
                   CASE WHEN c < 80 THEN :now - (1 + i % 525600) * interval '1 minute'
                        ELSE :now + (1 + i % 129600) * interval '1 minute' END,
                   CASE WHEN c < 55 THEN 'done' WHEN c < 65 THEN 'cancelled'
                        ELSE 'scheduled' END,
                   CASE WHEN c < 55 OR (c >= 65 AND c < 80)
                        THEN :now - (i % 525600) * interval '1 minute' END,
                   CASE WHEN c >= 65 AND c < 80 THEN 1 + i % 3 END,
                   false, 'sms', :now, :now
            FROM generate_series(1, :rows) AS i,
                 LATERAL (SELECT ((i - 1) / :agents) % 100 AS c) AS category"""),
            {"rows": rows, "agents": agents, "per": per, "now": now})
        conn.execute(text("""
            INSERT INTO appointments (lead_id, agent_id, title, due_at, state, reminder_late,
                                      channel, created_at, updated_at)
            SELECT ((i - 1) % :agents) * :per + 1, 1 + (i - 1) % :agents, 'due-now ' || i,
                   :now - (i % 120) * interval '1 second', 'scheduled', false, 'sms', :now, :now
            FROM generate_series(1, :due) AS i"""),
            {"due": due_now, "agents": agents, "per": per, "now": now})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE appointments"))
    return time.perf_counter() - started


# --- the dispatcher's statement ------------------------------------------------------------


class _Captured(Exception):
    pass


def capture_dispatch_query(app: Any, rules: Any, limit: int) -> tuple[str, dict[str, Any]]:
    """The exact SELECT ... FOR UPDATE that `dispatch_due_reminders` sends, with its parameters.
    The call is aborted at that statement, before it reaches the server: nothing is claimed."""
    from webapp.execution.reminder_dispatch import dispatch_due_reminders

    engine = get_db(app).engine
    seen: dict[str, Any] = {}

    def grab(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if "FOR UPDATE" in statement and "appointments" in statement:
            seen["sql"], seen["params"] = statement, dict(parameters)
            raise _Captured

    event.listen(engine, "before_cursor_execute", grab)
    try:
        dispatch_due_reminders(get_db(app), datetime.now(UTC), rules, limit=limit)
    except _Captured:
        pass
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    if "sql" not in seen:
        raise RuntimeError("dispatch_due_reminders issued no SELECT ... FOR UPDATE")
    return seen["sql"], seen["params"]


def with_now(params: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {key: now if isinstance(value, datetime) else value for key, value in params.items()}


@dataclass
class Explained:
    plan: str
    execution_ms: list[float]
    wall_ms: list[float]
    rows: int

    @property
    def median_ms(self) -> float:
        return statistics.median(self.execution_ms)

    @property
    def appointments_seq_scan(self) -> bool:
        return bool(re.search(r"Seq Scan on appointments", self.plan))

    @property
    def appointments_indexes(self) -> list[str]:
        """Indexes the plan reads `appointments` through."""
        names = re.findall(r"Index(?: Only)? Scan(?: Backward)? using (\S+) on appointments",
                           self.plan)
        names += [name for name in re.findall(r"Bitmap Index Scan on (\S+)", self.plan)
                  if name.startswith(("ix_appointments", "ix_bench", "pk_appointments"))]
        return sorted(set(names))


def explain(engine: Any, sql: str, params: dict[str, Any], repeats: int) -> Explained:
    """EXPLAIN (ANALYZE, BUFFERS) `repeats` times, plus the plain statement as often, each in a
    transaction rolled back (FOR UPDATE takes row locks; they are released at once)."""
    plans, execution, wall, rows = [], [], [], 0
    for _ in range(repeats):
        with engine.connect() as conn:
            result = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql,
                                          with_now(params, datetime.now(UTC)))
            plan = "\n".join(row[0] for row in result)
            conn.rollback()
        plans.append(plan)
        execution.append(float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1)))
        with engine.connect() as conn:
            started = time.perf_counter()
            rows = len(conn.exec_driver_sql(sql, with_now(params, datetime.now(UTC))).all())
            wall.append((time.perf_counter() - started) * 1000)
            conn.rollback()
    return Explained(plans[-1], execution, wall, rows)


def index_sizes(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relname = 'appointments' "
            "AND t.relnamespace = to_regnamespace(current_schema())"
        )).all())


def time_real_dispatch(app: Any, rules: Any, limit: int) -> tuple[str, list[tuple]]:
    """One real `dispatch_due_reminders` (it claims due rows and commits), recording every
    statement; returns a summary and the first instance of each per-agent SELECT it sent on
    appointments, with how many times it ran."""
    from webapp.execution.reminder_dispatch import dispatch_due_reminders

    engine = get_db(app).engine
    statements: list[tuple[str, dict]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        statements.append((statement, dict(parameters) if isinstance(parameters, dict) else {}))

    event.listen(engine, "before_cursor_execute", grab)
    started = time.perf_counter()
    try:
        ids = dispatch_due_reminders(get_db(app), datetime.now(UTC), rules, limit=limit)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    seconds = time.perf_counter() - started
    first: dict[str, dict] = {}
    for sql, params in statements:
        if (sql.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in sql
                and "FROM appointments" in sql):
            first.setdefault(sql, params)
    counts = Counter(sql.split()[0].upper() for sql, _ in statements)
    summary = (f"{len(ids)} texts in {seconds * 1000:.0f} ms, {len(statements)} statements "
               f"({', '.join(f'{k} {v}' for k, v in counts.items())}), "
               f"{len(statements) / max(1, len(ids)):.1f} round trips per reminder")
    per_agent = [(sql, params, sum(1 for s, _ in statements if s == sql))
                 for sql, params in first.items()]
    return summary, per_agent


def explain_per_agent(engine: Any, per_agent: list[tuple], repeats: int) -> list[tuple]:
    rows = []
    for sql, params, times in per_agent:
        result = explain(engine, sql, params, repeats)
        flat = " ".join(sql.split())
        what = flat.split(" FROM")[0].replace("SELECT ", "")[:40]
        where = flat.split("WHERE", 1)[-1].replace("appointments.", "")
        where = re.sub(r"%\((\w+)\)s::\w+( \w+)*?(?= AND|$)", "?", where).strip()[:90]
        rows.append((f"  {times} × {what}", f"{result.median_ms:.2f} ms via "
                     f"{', '.join(result.appointments_indexes) or 'no index'}"
                     f"{' (SEQ SCAN)' if result.appointments_seq_scan else ''}; {where}"))
    return rows


def plan_head(plan: str, lines: int = 6) -> str:
    return "\n".join("    " + line for line in plan.splitlines()[:lines])


# --- phase 1: the drain --------------------------------------------------------------------


@dataclass
class Drain:
    seconds: float = 0.0
    claim_seconds: float = 0.0
    dispatches_issued: int = 0
    batches: list[int] = field(default_factory=list)
    dispatch_ms: list[float] = field(default_factory=list)
    texts_accepted: int = 0
    duplicates: int = 0
    duplicated_appointments: int = 0
    not_reminded: int = 0
    not_sent: int = 0
    never_received: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    late_texts: int = 0
    numbered_texts: int = 0
    timed_out: bool = False

    @property
    def misses(self) -> int:
        return self.not_reminded + self.not_sent + self.never_received


def drain(app: Any, standin: TimedStandIn, rules: Any, due: int, direct: bool, limit: int,
          interval: float, timeout: float) -> Drain:
    from webapp.execution.reminder_dispatch import dispatch_due_reminders
    from workers.tasks import dispatch_reminders, enqueue_send

    db = get_db(app)
    figures = Drain()
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    next_tick = started
    with db.engine.connect() as conn:
        while True:
            unreminded = conn.execute(text(
                "SELECT count(*) FROM appointments WHERE reminded_at IS NULL")).scalar_one()
            conn.rollback()
            if unreminded:
                figures.dispatches_issued += 1
                if direct:
                    t = time.perf_counter()
                    ids = dispatch_due_reminders(db, datetime.now(UTC), rules, limit=limit)
                    figures.dispatch_ms.append((time.perf_counter() - t) * 1000)
                    for message_id in ids:
                        enqueue_send(message_id)
                else:
                    dispatch_reminders.delay()
            pending = conn.execute(text(
                "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')"
            )).scalar_one()
            conn.rollback()
            if not unreminded and not pending:
                break
            if time.monotonic() - started > timeout:
                figures.timed_out = True
                break
            next_tick += interval  # a fixed rate, like beat; no catching up when late
            time.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick = max(next_tick, time.monotonic())

        settle = time.monotonic()  # a send counted as `sent` has been accepted already
        while len(standin.messages) < conn.execute(text(
                "SELECT count(*) FROM messages WHERE status = 'sent'")).scalar_one():
            conn.rollback()
            if time.monotonic() - settle > 5:
                break
            time.sleep(0.05)
        conn.rollback()

        last_accept = max(standin.accepted_at, default=started)
        figures.seconds = last_accept - started
        last_claim = conn.execute(text("SELECT max(reminded_at) FROM appointments")).scalar_one()
        figures.claim_seconds = (last_claim - started_wall).total_seconds() if last_claim else 0
        figures.batches = [n for (n,) in conn.execute(text(
            "SELECT count(*) FROM appointments WHERE reminded_at IS NOT NULL "
            "GROUP BY reminded_at ORDER BY reminded_at"))]
        figures.not_reminded = conn.execute(text(
            "SELECT count(*) FROM appointments WHERE reminded_at IS NULL OR "
            "reminder_message_id IS NULL")).scalar_one()
        figures.statuses = dict(conn.execute(text(
            "SELECT status, count(*) FROM messages GROUP BY status")).all())
        figures.not_sent = conn.execute(text(
            "SELECT count(*) FROM appointments a JOIN messages m ON m.id = a.reminder_message_id "
            "WHERE m.status <> 'sent'")).scalar_one()
        titles = [int(n) for (n,) in conn.execute(text(
            "SELECT substr(title, 7, 6) FROM appointments WHERE title LIKE 'bench-%'"))]

    received = Counter()
    for message in list(standin.messages):
        for number in TITLE.findall(message["Body"]):
            received[int(number)] += 1
        figures.late_texts += "(late" in message["Body"]
        figures.numbered_texts += message["Body"].startswith("⏰ #")
    figures.texts_accepted = len(standin.messages)
    figures.duplicates = sum(count - 1 for count in received.values() if count > 1)
    figures.duplicated_appointments = sum(1 for count in received.values() if count > 1)
    figures.never_received = sum(1 for number in titles if received[number] == 0)
    assert len(titles) == due, (len(titles), due)
    return figures


def report_drain(figures: Drain, args: argparse.Namespace, ready_s: float) -> None:
    batches = figures.batches or [0]
    mode = (f"direct dispatch_due_reminders(limit={args.limit}) + enqueue_send" if args.direct
            else f"dispatch_reminders.delay() (limit {TASK_LIMIT}, as beat)")
    limit = args.limit if args.direct else TASK_LIMIT
    rows = [
        ("follow-ups due at once", f"{args.due} across {args.agents} agents "
                                   f"({len(ZONES)} zones; quiet hours off)"),
        ("workers", f"{args.workers} × celery prefork --concurrency {args.concurrency} "
                    f"(ready in {ready_s:.1f} s)"),
        ("stand-in", f"TCP_NODELAY {'off (+~40 ms a send)' if args.nagle else 'on'}, "
                     f"added latency {args.api_latency_ms:.0f} ms a send"),
        ("dispatch", f"{mode}, every {args.interval} s; {figures.dispatches_issued} issued"),
        ("time to drain", f"{figures.seconds:.1f} s (first dispatch → last text at the "
                          f"stand-in){'  TIMED OUT' if figures.timed_out else ''}"),
        ("reminders/s", f"{args.due / figures.seconds:.0f}" if figures.seconds else "-"),
        ("all claimed after", f"{figures.claim_seconds:.1f} s "
                              f"({len(figures.batches)} claiming dispatches, batch "
                              f"min/median/max {min(batches)}/{statistics.median(batches):.0f}/"
                              f"{max(batches)})"),
    ]
    if figures.dispatch_ms:
        rows.append(("dispatch call time", f"median {statistics.median(figures.dispatch_ms):.0f}"
                     f" ms, max {max(figures.dispatch_ms):.0f} ms (bench process)"))
    rows += [
        ("texts accepted by stand-in", figures.texts_accepted),
        ("message rows", ", ".join(f"{k}: {v}" for k, v in sorted(figures.statuses.items()))),
        ("duplicates", f"{figures.duplicates} ({figures.duplicated_appointments} appointments "
                       f"texted more than once)"),
        ("misses", f"{figures.misses} (not reminded {figures.not_reminded}, text not sent "
                   f"{figures.not_sent}, never reached the stand-in {figures.never_received})"),
        ("texts marked late / numbered", f"{figures.late_texts} / {figures.numbered_texts}"),
        ("batch bound", f"limit {limit} per dispatch: at most {limit / PRODUCTION_INTERVAL:.1f} "
                        f"reminders/s at the production beat interval ({PRODUCTION_INTERVAL} s), "
                        f"so {args.due} due at once need ≥ {-(-args.due // limit)} beats = "
                        f"{-(-args.due // limit) * PRODUCTION_INTERVAL / 60:.0f} min; here "
                        f"{args.interval} s gives ≤ {limit / args.interval:.0f}/s"),
    ]
    print_rows(rows)


def print_rows(rows: list[tuple[str, Any]]) -> None:
    width = max(len(str(name)) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--leads-per-agent", type=int, default=4)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between dispatches")
    parser.add_argument("--direct", action="store_true",
                        help="call dispatch_due_reminders from the bench (with --limit)")
    parser.add_argument("--limit", type=int, default=TASK_LIMIT, help="with --direct")
    parser.add_argument("--timeout", type=float, default=600.0, help="drain timeout, seconds")
    parser.add_argument("--rows", type=int, default=1_000_000, help="appointments for phase 2")
    parser.add_argument("--due-at-1m", type=int, default=1_000,
                        help="of which due now (phase 2)")
    parser.add_argument("--repeats", type=int, default=5, help="EXPLAIN ANALYZE runs")
    parser.add_argument("--api-latency-ms", type=float, default=0.0,
                        help="added by the stand-in to each accepted send (real Twilio: ~100+)")
    parser.add_argument("--nagle", action="store_true",
                        help="keep the stand-in's Nagle delay (~40 ms a send) as in the tests")
    parser.add_argument("--skip-drain", action="store_true")
    parser.add_argument("--skip-1m", action="store_true")
    parser.add_argument("--log-dir", type=Path, default=None)
    args = parser.parse_args()

    from webapp.execution.reminder_dispatch import ReminderRules

    base = os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis = Redis.from_url(BENCH_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    redis.ping()
    redis.flushdb()
    failed = False
    print(f"load average at start  {load()}")
    with ExitStack() as stack:
        stack.callback(redis.flushdb)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fl_rem_")))
        url = stack.enter_context(TemporarySchema(base, prefix="fl_rembench")).url
        migrate.upgrade(url)
        standin = TimedStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN,
                               latency=args.api_latency_ms / 1000)
        if args.nagle:
            standin.handler_class = TwilioStandIn.handler_class
        stack.enter_context(standin)
        env = worker_env(url, standin.base_url)
        app = create_app(app_settings(env))
        app.extensions["celery"].set_current()
        stack.callback(get_db(app).dispose)
        engine = get_db(app).engine
        rules = ReminderRules.from_config(app.config)
        now = datetime.now(UTC)
        seed(engine, args.agents, args.leads_per_agent, 0 if args.skip_drain else args.due, now)
        sql, params = capture_dispatch_query(app, rules, args.limit if args.direct else TASK_LIMIT)
        print("\ndispatcher statement (captured from dispatch_due_reminders):")
        print("  " + " ".join(sql.split()))
        print("  params:", {k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in params.items()})

        if not args.skip_drain:
            small = explain(engine, sql, params, args.repeats)
            how = (", ".join(small.appointments_indexes) or "none") + (
                "; a Seq Scan is right here: every row is due" if small.appointments_seq_scan
                else "")
            print(f"\nthat query at {args.due} rows, all due: {small.median_ms:.2f} ms "
                  f"(indexes: {how})")
            logs = args.log_dir or work
            logs.mkdir(parents=True, exist_ok=True)
            workers = Workers(env, logs, args.workers, args.concurrency)
            stack.callback(workers.stop)
            workers.start()
            ready = workers.wait_ready(app.extensions["celery"])
            with app.app_context():
                figures = drain(app, standin, rules, args.due, args.direct, args.limit,
                                args.interval, args.timeout)
            workers.stop()
            print(f"\n== drain ({'direct' if args.direct else 'task'}) ==")
            report_drain(figures, args, ready)
            print(f"load average after drain  {load()}")
            if figures.duplicates or figures.misses or figures.timed_out:
                failed = True
                print(workers.logs())

        if not args.skip_1m:
            print(f"\n== dispatcher query with {args.rows:,} more appointments ==")
            seconds = insert_history(engine, args.rows, args.due_at_1m, args.agents,
                                     args.leads_per_agent, datetime.now(UTC))
            with engine.connect() as conn:
                total, due_now = conn.execute(text(
                    "SELECT count(*), count(*) FILTER (WHERE state = 'scheduled' AND "
                    "reminded_at IS NULL AND due_at <= now()) FROM appointments")).one()
            print(f"table: {total:,} appointments, {due_now:,} due (inserted + ANALYZE in "
                  f"{seconds:.1f} s)")
            sizes = index_sizes(engine)
            big = explain(engine, sql, params, args.repeats)
            print(big.plan)
            print_rows([
                ("dispatcher query", f"median {big.median_ms:.2f} ms execution "
                                     f"(runs: {', '.join(f'{m:.2f}' for m in big.execution_ms)}),"
                                     f" {statistics.median(big.wall_ms):.2f} ms round trip, "
                                     f"{big.rows} rows"),
                ("reads appointments via", ", ".join(big.appointments_indexes) or "NO INDEX"),
                ("seq scan on appointments", "YES — O(table)" if big.appointments_seq_scan
                 else "no"),
                ("index sizes", ", ".join(f"{k} {v / 2**20:.1f} MiB"
                                          for k, v in sorted(sizes.items()))),
            ])
            if big.appointments_seq_scan or not big.appointments_indexes:
                failed = True

            # For comparison only, in this throwaway schema: the partial index.
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text(
                    "CREATE INDEX ix_bench_due_partial ON appointments (due_at) "
                    "WHERE state = 'scheduled' AND reminded_at IS NULL"))
                conn.execute(text("ANALYZE appointments"))
            partial = explain(engine, sql, params, args.repeats)
            part_size = index_sizes(engine)["ix_bench_due_partial"]
            print_rows([
                ("with a partial index", f"median {partial.median_ms:.2f} ms via "
                                         f"{', '.join(partial.appointments_indexes) or 'none'}"
                                         f" (size {part_size / 2**20:.2f} MiB vs "
                                         f"{sizes['ix_appointments_due_unreminded'] / 2**20:.1f}"
                                         f" MiB), plan:"),
            ])
            print(plan_head(partial.plan, 8))
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("DROP INDEX ix_bench_due_partial"))

            print("\none real dispatch at this size (it claims and commits):")
            with app.app_context():
                summary, per_agent = time_real_dispatch(app, rules, TASK_LIMIT)
            rows = [("real dispatch", summary), ("its per-agent queries", "")]
            rows += explain_per_agent(engine, per_agent, args.repeats)
            # For comparison only: an index for the per-agent "outstanding" queries.
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.execute(text(
                    "CREATE INDEX ix_bench_outstanding ON appointments "
                    "(agent_id, reminder_number) WHERE state = 'scheduled' "
                    "AND reminded_at IS NOT NULL"))
                conn.execute(text("ANALYZE appointments"))
            size = index_sizes(engine)["ix_bench_outstanding"]
            rows.append((f"with a partial (agent_id, reminder_number) index, "
                         f"{size / 2**20:.1f} MiB", ""))
            rows += explain_per_agent(engine, per_agent, args.repeats)
            print_rows(rows)
        print(f"\nload average at end  {load()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
