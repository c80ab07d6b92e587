"""Morning agenda benchmark (issue 19): 10,000 agents with 200 leads each, all at their agenda
hour at once, claimed by the real beat task and written by two real Celery worker processes on
PostgreSQL. Target: the last agenda written within 60 s of the claim.

    .venv/bin/python bench/agenda_bench.py --database-url postgresql+psycopg://.../bench
    .venv/bin/python bench/agenda_bench.py --agents 500 --leads 50     # a quick run
    .venv/bin/python bench/agenda_bench.py --nudges-off                # follow-ups only

Data. A fresh schema (TemporarySchema on --database-url, default TEST_DATABASE_URL or
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrated, filled with `INSERT ... SELECT
generate_series`: --agents agents spread over five zones that share US Central time (so one
agenda hour covers them all: the worst case, every agenda due in the same beat) plus
--elsewhere agents in Tokyo (never in the window: the claim must leave them out); --leads
leads each, in every status (a tenth new and never contacted, qualified and negotiating leads
silent for up to 45 days, new ones added in the last ten days); --follow-ups follow-ups each
(half done, some cancelled, the rest open over the next 60 days, two snoozed three times or
more); and for 7 agents in 10, two due later today and three overdue by up to 20 days. Every
agent has never-contacted new leads, so every agenda carries three nudges and is texted (a text
goes out when something is due or there is a nudge; with --nudges-off only the 7 in 10).
--history-days earlier agendas per agent, written (the claim's NOT EXISTS reads past them).
Then VACUUM ANALYZE, as autovacuum would have done for a settled table.

Run. AGENDA_HOUR is set to the current hour in Chicago, for the bench and its workers alike.
--workers `celery worker --pool prefork --concurrency 1` processes (each its own process group,
on Redis --redis-url as broker, default db 13: emptied at the start and the end, it must be
nobody else's) are started through this file's --worker mode, which instruments them and then
runs Celery's own worker: each agenda's `write_agenda` (the body, the text row) and each
transaction of them (`_write_claims`: the lock, the agendas, the commit) is timed, with their
SQL statements counted, and the nudges' share (`pick_nudges`) timed apart. The bench
then plays beat once: `workers.tasks.hand_out_agendas(now)`, which claims every due agent in
one transaction and queues `write_agendas` tasks of AGENDA_BATCH ids; the workers write, and
send each text through the Twilio stand-in as it is committed (the sends share the queue, as
in production).

Figures: the beat's hand-out (claims and queueing), seconds from the start of the hand-out to
the last agenda committed (the target), agendas/s, `write_agenda` time p50/p95/p99/max (and
the nudges' share), the all-in time per agenda (a transaction's time over its agendas),
statements per agenda, seconds to the last text accepted by the stand-in. Checks: every due
agent claimed once and nobody else, every claim written, one text per agent with something
due or a nudge and none for the others, three nudges per agenda (unless off), every text sent
once. Exit status 1 on a miss of the target or
of a check.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.reminders_bench import TimedStandIn, load, print_rows  # noqa: E402
from tests.support.service_processes import BIN, ProcessGroups, service_env  # noqa: E402

DEFAULT_DATABASE_URL = (os.environ.get("TEST_DATABASE_URL")
                        or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DEFAULT_REDIS_URL = "redis://localhost:6379/13"
TARGET_SECONDS = 60.0
# Zones that share US Central time all year (same offset, same DST rules): one agenda hour.
ZONES = ("America/Chicago", "America/Winnipeg", "America/Indiana/Knox", "America/Menominee",
         "America/North_Dakota/Center")
CHICAGO = ZoneInfo(ZONES[0])
ELSEWHERE = "Asia/Tokyo"  # 15 hours ahead of Chicago: never in the same agenda window
ASSISTANT_NUMBER = "+13125550000"
TIMINGS_KEY = "agenda_bench:writes"  # one line per claim written, pushed by the workers


# --- data --------------------------------------------------------------------------------------

def seed(engine: Any, agents: int, elsewhere: int, leads: int, follow_ups: int,
         history_days: int, now: datetime) -> None:
    """Everything in SQL: agents 1..agents in ZONES, the next `elsewhere` in ELSEWHERE (with a
    tenth of the leads), their leads, follow-ups and past agendas."""
    zones = "ARRAY[" + ", ".join(f"'{zone}'" for zone in ZONES) + "]"
    params = {"agents": agents, "all": agents + elsewhere, "leads": leads, "now": now,
              "few": max(1, leads // 10), "follow_ups": follow_ups,
              "today": now.astimezone(CHICAGO).date(), "days": history_days}
    with engine.begin() as conn:
        conn.execute(text(f"""
            INSERT INTO users (id, name, phone, timezone, opted_out, created_at)
            SELECT g, 'Agent ' || g, '+1312' || lpad(g::text, 7, '0'),
                   CASE WHEN g <= :agents THEN ({zones})[1 + g % {len(ZONES)}]
                        ELSE '{ELSEWHERE}' END,
                   false, :now - interval '400 days'
            FROM generate_series(1, :all) AS g"""), params)
        # Lead k of agent a has id (a - 1) * :leads + k (agents elsewhere use the first :few).
        conn.execute(text("""
            INSERT INTO leads (id, agent_id, name, phone, email, status, last_contacted,
                               source, created_at, updated_at)
            SELECT id, a,
                   (ARRAY['Ava','Liam','Noah','Mia','Zoe','Omar','Ivy','Kai','Leila','Sven',
                          'Rosa','Theo'])[1 + (a * 7 + k) % 12] || ' ' ||
                   (ARRAY['Garcia','Nguyen','Smith','Okafor','Kowalski','Haddad','Rossi',
                          'Jensen','Moreau','Tanaka','Cole','Doe','Patel'])[1 + (a + k * 5) % 13]
                       || ' ' || k,
                   '+1773' || lpad(id::text, 7, '0'),
                   CASE WHEN k % 3 = 0 THEN 'lead' || id || '@example.com' END,
                   status,
                   CASE WHEN status = 'new' AND k % 20 < 2 THEN NULL
                        ELSE :now - make_interval(hours => (a * 31 + k * 17) % (45 * 24)) END,
                   'import',
                   CASE WHEN status = 'new' THEN :now - make_interval(hours => (a + k) % 240)
                        ELSE :now - make_interval(hours => (a * k) % (700 * 24)) END,
                   :now - make_interval(hours => (a + k * 3) % (60 * 24))
            FROM (SELECT (a - 1) * :leads + k AS id, a, k,
                         CASE WHEN k % 20 < 3 THEN 'new' WHEN k % 20 < 7 THEN 'contacted'
                              WHEN k % 20 < 10 THEN 'qualified'
                              WHEN k % 20 < 12 THEN 'negotiating'
                              WHEN k % 20 < 14 THEN 'follow_up'
                              WHEN k % 20 < 17 THEN 'closed_won' ELSE 'closed_lost' END
                             AS status
                  FROM generate_series(1, :all) AS a,
                       LATERAL generate_series(1, CASE WHEN a <= :agents THEN :leads
                                                       ELSE :few END) AS k) AS made"""),
            params)
        # Follow-up j of agent a: 1-20 done, 21-23 cancelled, 24-25 due later today and 26-28
        # overdue (for agents with a % 10 < 7; in the coming weeks for the others), 29-30
        # snoozed 3-5 times, the rest in the next 60 days.
        conn.execute(text("""
            INSERT INTO appointments (lead_id, agent_id, title, due_at, state, reminded_at,
                                      reminder_number, reminder_late, snooze_count,
                                      completed_at, channel, created_at, updated_at)
            SELECT (a - 1) * :leads + 1 + (j * 7 + a) % per, a,
                   (ARRAY['send the contract', 'call about the offer', 'book the inspection',
                          'showing at 12 Elm St', 'follow up', 'send comps',
                          'check financing'])[1 + (a + j) % 7],
                   due_at,
                   CASE WHEN j <= 20 THEN 'done' WHEN j <= 23 THEN 'cancelled'
                        ELSE 'scheduled' END,
                   CASE WHEN j <= 20 OR (j BETWEEN 26 AND 28 AND busy) THEN due_at END,
                   CASE WHEN j BETWEEN 26 AND 28 AND busy THEN j - 25 END,
                   false,
                   CASE WHEN j BETWEEN 29 AND 30 THEN 3 + a % 3 ELSE 0 END,
                   CASE WHEN j <= 20 THEN due_at + interval '1 hour' END,
                   'sms', due_at - interval '3 days', due_at - interval '3 days'
            FROM (SELECT a, j, per, busy,
                         CASE WHEN j <= 23 THEN :now - make_interval(days => j * 5 + a % 5)
                              WHEN j <= 25 AND busy
                                  THEN :now + make_interval(mins => 20 * (j - 23))
                              WHEN j <= 28 AND busy
                                  THEN :now - make_interval(days => 1 + (a + j) % 20)
                              ELSE :now + make_interval(days => 1 + (a * j) % 60) END AS due_at
                  FROM generate_series(1, :all) AS a,
                       LATERAL (SELECT CASE WHEN a <= :agents THEN :leads ELSE :few END AS per,
                                       a % 10 < 7 AS busy) AS agent,
                       generate_series(1, :follow_ups) AS j) AS made"""), params)
        conn.execute(text("""
            INSERT INTO daily_agendas (agent_id, day, created_at, composed_at)
            SELECT a, CAST(:today AS date) - d, :now - make_interval(days => d),
                   :now - make_interval(days => d)
            FROM generate_series(1, :all) AS a, generate_series(1, :days) AS d"""), params)
        for table in ("users", "leads"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def texted_agents(engine: Any, agents: int, now: datetime, nudges: bool) -> int:
    """Agents in the window the agenda texts: an open follow-up due before the end of their
    day or (nudges on) a new lead never contacted, which is always a nudge."""
    local = now.astimezone(CHICAGO)
    end = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), CHICAGO)
    nudged = ("OR id IN (SELECT agent_id FROM leads WHERE status = 'new' "
              "AND last_contacted IS NULL)") if nudges else ""
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT count(*) FROM users WHERE id <= :agents AND (id IN (SELECT agent_id FROM "
            f"appointments WHERE state = 'scheduled' AND due_at < :end) {nudged})"),
            {"end": end, "agents": agents}).scalar_one()


# --- the instrumented worker (this file's --worker mode) -----------------------------------

def run_worker(name: str, redis_url: str) -> None:
    """Celery's own worker, with every agenda's `write_agenda` (and its `pick_nudges`) and
    every transaction of them (`_write_claims`: the lock, the agendas, the commit) timed and
    their SQL statements counted. Patched before the pool forks, so every pool process runs the
    instrumented functions; each task's lines go to Redis at its end."""
    from celery.signals import task_postrun
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from webapp.execution import reminder_dispatch as dispatch
    from workers.celery import app

    write_claims, write_agenda = dispatch._write_claims, dispatch.write_agenda
    pick_nudges = dispatch.pick_nudges
    state: dict[str, Any] = {"statements": 0, "agendas": 0, "lines": [], "nudges_s": 0.0}
    clients: dict[int, Redis] = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def count(*_: Any) -> None:
        state["statements"] += 1

    def timed_write_claims(db, claim_ids, now, rules):
        state.update(statements=0, agendas=0)
        started = time.perf_counter()
        result = write_claims(db, claim_ids, now, rules)
        elapsed = time.perf_counter() - started
        if state["agendas"]:
            state["lines"].append(f"group {elapsed * 1000:.3f} {state['agendas']} "
                                  f"{state['statements']} {time.time():.6f}")
        return result

    def timed_pick_nudges(*args: Any):
        started = time.perf_counter()
        result = pick_nudges(*args)
        state["nudges_s"] = time.perf_counter() - started
        return result

    def timed_write_agenda(session, claim, agent, zone, now):
        state["agendas"] += 1
        state["nudges_s"] = 0.0
        before = state["statements"]
        started = time.perf_counter()
        result = write_agenda(session, claim, agent, zone, now)
        done = time.perf_counter()
        state["lines"].append(f"agenda {(done - started) * 1000:.3f} "
                              f"{state['nudges_s'] * 1000:.3f} "
                              f"{state['statements'] - before}")
        return result

    @task_postrun.connect
    def flush(**_: Any) -> None:
        if state["lines"]:
            client = clients.get(os.getpid()) or clients.setdefault(
                os.getpid(), Redis.from_url(redis_url))
            client.rpush(TIMINGS_KEY, *state["lines"])
            state["lines"] = []

    dispatch._write_claims = timed_write_claims
    dispatch.write_agenda = timed_write_agenda
    dispatch.pick_nudges = timed_pick_nudges
    app.worker_main(["worker", "--pool", "prefork", "--concurrency", "1", "-Q", "celery",
                     "--loglevel", "WARNING", "-n", f"{name}@%h", "--without-gossip",
                     "--without-mingle", "--without-heartbeat"])


# --- the run -----------------------------------------------------------------------------------

def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def wait_ready(celery_app: Any, count: int, procs: ProcessGroups, timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not all(procs.alive(name) for name in procs.procs):
            raise RuntimeError("a worker exited at start-up:\n" + procs.logs())
        if len(celery_app.control.ping(timeout=0.5)) >= count:
            return time.monotonic() - started
    raise RuntimeError("workers not ready in time:\n" + procs.logs())


def measure(args: argparse.Namespace) -> int:
    from db import migrate
    from tests.support.databases import TemporarySchema
    from webapp.app import create_app
    from webapp.database import get_db
    from webapp.execution.reminder_dispatch import AGENDAS_PER_COMMIT
    from workers.tasks import hand_out_agendas

    redis = Redis.from_url(args.redis_url, socket_timeout=2, socket_connect_timeout=2)
    redis.ping()
    redis.flushdb()
    print(f"load average at start  {load()}")
    with ExitStack() as stack:
        stack.callback(redis.flushdb)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fl_agenda_")))
        url = stack.enter_context(TemporarySchema(args.database_url, prefix="fl_agendabench")).url
        migrate.upgrade(url)
        standin = stack.enter_context(TimedStandIn(account_sid="AC" + "a9" * 16,
                                                   auth_token="agenda-bench-token"))
        hour = datetime.now(CHICAGO).hour
        metrics = work / "metrics"
        metrics.mkdir()
        env = service_env(url, args.redis_url, standin, ASSISTANT_NUMBER, metrics,
                          AGENDA_HOUR=str(hour), LOG_LEVEL="WARNING")
        app = create_app({**env, "TESTING": True, "CELERY_BROKER_URL": None,
                          "AGENDA_HOUR": hour, "TWILIO_TIMEOUT": 5.0})
        app.extensions["celery"].set_current()
        stack.callback(get_db(app).dispose)
        engine = get_db(app).engine

        started = time.perf_counter()
        seed_now = datetime.now(UTC)
        seed(engine, args.agents, args.elsewhere, args.leads, args.follow_ups,
             args.history_days, seed_now)
        with engine.connect() as conn:
            counts = conn.execute(text(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM leads), "
                "(SELECT count(*) FROM appointments), (SELECT count(*) FROM daily_agendas)"
            )).one()
        if not args.nudges:
            with engine.begin() as conn:
                conn.execute(text("UPDATE users SET nudges_on = false"))
        expected_texts = texted_agents(engine, args.agents, seed_now, args.nudges)
        print(f"seeded {counts[0]:,} agents, {counts[1]:,} leads, {counts[2]:,} follow-ups, "
              f"{counts[3]:,} past agendas in {time.perf_counter() - started:.0f} s "
              f"(with VACUUM ANALYZE); {expected_texts:,} agents get a text today")

        procs = ProcessGroups(env, work)
        stack.callback(procs.stop_all)
        for index in range(args.workers):
            argv = [str(BIN / "python"), str(Path(__file__).resolve()), "--worker",
                    f"agendabench{index}", "--redis-url", args.redis_url]
            procs.start(f"worker{index}", argv)
        ready = wait_ready(app.extensions["celery"], args.workers, procs)

        with app.app_context():
            began_wall, began = time.time(), time.monotonic()
            handed = hand_out_agendas(datetime.now(UTC))
            hand_out_s = time.monotonic() - began
        timed_out = False
        with engine.connect() as conn:
            while conn.execute(text(
                    "SELECT count(*) FROM daily_agendas WHERE composed_at IS NULL")).scalar_one():
                conn.rollback()
                if time.monotonic() - began > args.timeout:
                    timed_out = True
                    break
                time.sleep(0.05)
            conn.rollback()
            written_by_poll = time.monotonic() - began
            while conn.execute(text(
                    "SELECT count(*) FROM messages WHERE status IN ('queued', 'sending')"
            )).scalar_one() and time.monotonic() - began < args.timeout:
                conn.rollback()
                time.sleep(0.05)
            conn.rollback()
            claims, claimed_agents, outside, unwritten, with_text = conn.execute(text(
                "SELECT count(*), count(DISTINCT agent_id), "
                "count(*) FILTER (WHERE agent_id > :agents), "
                "count(*) FILTER (WHERE composed_at IS NULL), count(message_id) "
                "FROM daily_agendas WHERE created_at > :seeded"),
                {"agents": args.agents, "seeded": seed_now}).one()
            texts, texted, sent = conn.execute(text(
                "SELECT count(*), count(DISTINCT agent_id), "
                "count(*) FILTER (WHERE status = 'sent') FROM messages "
                "WHERE direction = 'outbound'")).one()
            nudges, nudged_agendas = conn.execute(text(
                "SELECT count(*), count(DISTINCT agenda_id) FROM nudges")).one()
        deadline = time.monotonic() + 5
        while len(standin.messages) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        procs.stop_all()

        lines = [line.decode().split() for line in redis.lrange(TIMINGS_KEY, 0, -1)]
        agendas = [line[1:] for line in lines if line[0] == "agenda"]
        groups = [line[1:] for line in lines if line[0] == "group"]
        write_ms = [float(line[0]) for line in agendas]
        nudge_ms = [float(line[1]) for line in agendas]
        statements = [int(line[2]) for line in agendas]
        all_in_ms = [float(ms) / int(n) for ms, n, _, _ in groups]
        group_statements = [int(total) for _, _, total, _ in groups]
        agenda_statements = sum(statements)
        last_written = max((float(line[3]) for line in groups), default=began_wall) - began_wall
        seconds = last_written if groups else written_by_poll
        last_text = max(standin.accepted_at, default=began) - began
        ok = (not timed_out and claims == claimed_agents == args.agents and not outside
              and not unwritten and with_text == texts == texted == expected_texts
              and sent == texts and len(standin.messages) == texts
              and nudges == (3 * texts if args.nudges else 0))
        passed = ok and seconds <= args.target
        rows = [
            ("agents", f"{args.agents:,} due at once in {len(ZONES)} Central zones (+ "
                       f"{args.elsewhere:,} in {ELSEWHERE}, not due); {args.leads} leads and "
                       f"{args.follow_ups} follow-ups each"),
            ("workers", f"{args.workers} × celery prefork --concurrency 1 (ready in "
                        f"{ready:.1f} s); nudges {'on' if args.nudges else 'off'}"),
            ("beat's hand-out", f"{hand_out_s * 1000:.0f} ms: {handed['claimed']:,} claimed, "
                                f"{handed['queued']:,} queued in write_agendas tasks"),
            ("last agenda written", f"{seconds:.1f} s after the hand-out began"
                                    f"{'  TIMED OUT' if timed_out else ''}"),
            ("agendas/s", f"{claims / seconds:.0f}" if seconds else "-"),
            ("write_agenda (ms)", _spread(write_ms)),
            ("  of which nudges (ms)", _spread(nudge_ms) if args.nudges else "-"),
            ("all-in per agenda (ms)", _spread(all_in_ms, "transactions") + " (a "
                                       "transaction's time / its agendas: with the lock and "
                                       "the commit)"),
            ("statements", f"per agenda median {statistics.median(statements):.0f}, max "
                           f"{max(statements)}; per transaction of up to "
                           f"{AGENDAS_PER_COMMIT} agendas, besides theirs "
                           f"{(sum(group_statements) - agenda_statements) / len(groups):.1f}"
                           if groups else "-"),
            ("last text at the stand-in", f"{last_text:.1f} s after the hand-out began"),
            ("claims", f"{claims:,} for {claimed_agents:,} agents ({outside} outside the "
                       f"window), {unwritten} unwritten"),
            ("texts", f"{texts:,} for {texted:,} agents (expected {expected_texts:,}),"
                      f" {sent:,} sent, {len(standin.messages):,} at the stand-in"),
            ("nudges", f"{nudges:,} in {nudged_agendas:,} agendas"),
            ("target", f"{'PASS' if passed else 'MISS'}: ≤ {args.target:.0f} s"
                       f"{'' if ok else ' (a check failed)'}"),
        ]
        print()
        print_rows(rows)
        print(f"load average at end  {load()}")
        if not ok:
            print(procs.logs())
    return 0 if passed else 1


def _spread(values: list[float], what: str = "agendas") -> str:
    if not values:
        return "-"
    return (f"p50 {percentile(values, 0.5):.1f}, p95 {percentile(values, 0.95):.1f}, "
            f"p99 {percentile(values, 0.99):.1f}, max {max(values):.1f} "
            f"({len(values):,} {what})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help="PostgreSQL; the bench works in a schema of its own there")
    parser.add_argument("--redis-url", default=os.environ.get("AGENDA_BENCH_REDIS_URL",
                                                              DEFAULT_REDIS_URL),
                        help="broker and timings; emptied at the start and the end")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--elsewhere", type=int, default=500, help="agents not due now")
    parser.add_argument("--leads", type=int, default=200, help="per agent")
    parser.add_argument("--follow-ups", type=int, default=40, help="per agent")
    parser.add_argument("--history-days", type=int, default=30, help="past agendas per agent")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nudges-off", dest="nudges", action="store_false",
                        help="every agent with nudges off: the agenda's follow-ups only")
    parser.add_argument("--target", type=float, default=TARGET_SECONDS)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--worker", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.redis_url)
        return 0
    return measure(args)


if __name__ == "__main__":
    sys.exit(main())
