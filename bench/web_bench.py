"""Web app benchmark: /app, a lead page with 500 timeline entries and /app/reports for an agent
with 5,000 leads and 50,000 interactions, on PostgreSQL. Target: p95 server time <= 150 ms.

    .venv/bin/python bench/web_bench.py                  # 60 timed requests per page
    .venv/bin/python bench/web_bench.py --requests 200 --explain

A fresh schema (TemporarySchema on TEST_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrated. The measured agent gets 5,000
leads created over the last year in every status, 50,000 interactions of every type over the
year, about 10,000 status changes, 10,000 follow-ups (done on time, late, missed, cancelled,
open) and change_history rows; one of the leads has exactly 500 timeline entries (200
interactions, 150 status changes, 100 follow-ups, 50 changes). `--other-agents` (default 4)
more agents get a book of the same size, so every query must find one agent's rows among
five times as many. Rows are written with INSERT ... SELECT generate_series, then VACUUM
ANALYZE (as autovacuum would have).

Server time is the time of one request through the whole Flask app in this process (the
WSGI call: session lookup, queries, Jinja, the response body), signed in as the agent with a
real one-time link; no network. Each page gets `--warmup` untimed requests, then
`--requests` timed ones; printed: p50, p95, max, and the median CPU time of this process alone
(the app's Python: the rest of the wall time is PostgreSQL and waiting for a CPU; the load
average is printed too, since a shared machine stretches the wall times).

Pages: /app, the 500-entry lead page, /app/reports (its default period, the last 90 days) and,
for information, /app/reports for this year (every weekly bucket), the lead's oldest timeline
page, /app/agenda and a search.
`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of every SELECT the reports page runs for this
year (its heaviest period).

Exit status 1 when a required page's p95 is over `--target-ms`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import event, text  # noqa: E402

from db import migrate  # noqa: E402
from tests.support.databases import TemporarySchema  # noqa: E402
from webapp.app import create_app  # noqa: E402
from webapp.database import get_db  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_REDIS_URL = os.environ.get("WEB_BENCH_REDIS_URL", "redis://localhost:6379/5")
LEADS = 5_000
INTERACTIONS = 50_000
REQUIRED = ("/app", "lead page (500 entries)", "/app/reports")

# One agent's book, generated in the database. :agent is the agent's id, :base a number that
# makes phones unique across agents. Times spread over the past year.
BOOK_SQL = [
    """
    INSERT INTO leads (agent_id, name, phone, email, status, last_contacted, source,
                       created_at, updated_at)
    SELECT :agent, 'Lead ' || :base || '-' || lpad(n::text, 5, '0'),
           '+1312' || lpad((:base * 10000 + n)::text, 7, '0'),
           'lead' || n || '.' || :base || '@example.com',
           (ARRAY['new','contacted','qualified','negotiating','closed_won','closed_lost',
                  'follow_up'])[1 + (n * 7919) % 7],
           CASE WHEN n % 9 = 0 THEN NULL ELSE now() - (n % 360) * interval '1 day' END,
           'import',
           now() - (365 - (n * 37) % 365) * interval '1 day' - (n % 24) * interval '1 hour',
           now() - (n % 300) * interval '1 day'
    FROM generate_series(1, :leads) AS n
    """,
    """
    INSERT INTO client_interactions (lead_id, agent_id, type, note, occurred_at, channel)
    SELECT l.id, :agent,
           (ARRAY['call','meeting','viewing','email','text','note'])[1 + (g.n * 31) % 6],
           'interaction ' || g.n, now() - ((g.n * 7) % 525600) * interval '1 minute',
           (ARRAY['sms','voice','web'])[1 + g.n % 3]
    FROM generate_series(1, :interactions) AS g(n)
    JOIN leads l ON l.agent_id = :agent
     AND l.name = 'Lead ' || :base || '-' || lpad((1 + g.n % :leads)::text, 5, '0')
    """,
    """
    INSERT INTO lead_history (lead_id, agent_id, old_status, new_status, changed_at, channel)
    SELECT l.id, :agent, 'new',
           (ARRAY['contacted','qualified','negotiating','closed_won','closed_lost'])
               [1 + (l.id * 13 + k) % 5],
           now() - ((l.id * 17 + k * 101) % 360) * interval '1 day', 'sms'
    FROM leads l CROSS JOIN generate_series(1, 2) AS k
    WHERE l.agent_id = :agent
    """,
    """
    INSERT INTO appointments (lead_id, agent_id, title, due_at, state, completed_at, channel,
                              sequence, snooze_count, reminder_late, created_at, updated_at,
                              reminded_at)
    SELECT l.id, :agent, 'follow up ' || k,
           now() + ((l.id * 11 + k * 53) % 400 - 300) * interval '1 day',
           (ARRAY['scheduled','done','done','cancelled'])[1 + (l.id + k) % 4],
           CASE WHEN (l.id + k) % 4 IN (1, 2)
                THEN now() + ((l.id * 11 + k * 53) % 400 - 300) * interval '1 day'
                     + ((l.id % 3) * 20) * interval '1 hour' END,
           'sms', 0, 0, false, now() - interval '400 days', now(),
           CASE WHEN (l.id * 11 + k * 53) % 400 < 300 THEN now() END
    FROM leads l CROSS JOIN generate_series(1, 2) AS k
    WHERE l.agent_id = :agent
    """,
    """
    INSERT INTO change_history (agent_id, lead_id, appointment_id, kind, changes, changed_at,
                                channel)
    SELECT :agent, a.lead_id, a.id, 'follow_up.completed',
           '{"state": ["scheduled", "done"]}', a.completed_at, 'web'
    FROM appointments a WHERE a.agent_id = :agent AND a.state = 'done'
    """,
]

# One lead with exactly 500 timeline entries.
TIMELINE_SQL = [
    """
    INSERT INTO client_interactions (lead_id, agent_id, type, note, occurred_at, channel)
    SELECT :lead, :agent, (ARRAY['call','viewing','note'])[1 + n % 3], 'timeline note ' || n,
           now() - n * interval '7 hours', 'voice'
    FROM generate_series(1, 200) AS n
    """,
    """
    INSERT INTO lead_history (lead_id, agent_id, old_status, new_status, changed_at, channel)
    SELECT :lead, :agent, 'qualified', 'negotiating', now() - n * interval '11 hours', 'sms'
    FROM generate_series(1, 150) AS n
    """,
    """
    INSERT INTO appointments (lead_id, agent_id, title, due_at, state, channel, sequence,
                              snooze_count, reminder_late, created_at, updated_at, reminded_at)
    SELECT :lead, :agent, 'timeline follow-up ' || n, now() + (n - 90) * interval '1 day',
           (ARRAY['scheduled','done','cancelled'])[1 + n % 3], 'web', 0, 0, false,
           now() - n * interval '13 hours', now(),
           CASE WHEN n < 90 THEN now() END
    FROM generate_series(1, 100) AS n
    """,
    """
    INSERT INTO change_history (agent_id, lead_id, appointment_id, kind, changes, changed_at,
                                channel)
    SELECT :agent, :lead, NULL, 'lead.updated',
           ('{"email": ["a' || n || '@example.com", "b' || n || '@example.com"]}')::json,
           now() - n * interval '17 hours', 'web'
    FROM generate_series(1, 50) AS n
    """,
]


def build(app, other_agents: int) -> tuple[int, int]:
    """The measured agent's id and the 500-entry lead's id."""
    database = get_db(app)
    with database.engine.begin() as connection:
        ids = []
        for n in range(other_agents + 1):
            agent_id = connection.execute(text(
                "INSERT INTO users (name, phone, timezone, opted_out, created_at) VALUES "
                "(:name, :phone, 'America/Chicago', false, now()) RETURNING id"),
                {"name": f"Agent {n}" if n else "Alex Rivera",
                 "phone": f"+1773555{n:04d}"}).scalar_one()
            ids.append(agent_id)
            for statement in BOOK_SQL:
                connection.execute(text(statement), {"agent": agent_id, "base": n + 1,
                                                     "leads": LEADS,
                                                     "interactions": INTERACTIONS})
        agent_id = ids[0]
        lead_id = connection.execute(text(
            "INSERT INTO leads (agent_id, name, phone, status, source, created_at, updated_at)"
            " VALUES (:agent, 'Timeline Lead', '+17735559999', 'negotiating', 'sms',"
            " now() - interval '400 days', now()) RETURNING id"), {"agent": agent_id}
        ).scalar_one()
        for statement in TIMELINE_SQL:
            connection.execute(text(statement), {"agent": agent_id, "lead": lead_id})
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))  # what autovacuum does to a table in use
    return agent_id, lead_id


def counts(app, agent_id: int, lead_id: int) -> dict[str, int]:
    with get_db(app).engine.connect() as connection:
        def one(sql: str) -> int:
            return connection.execute(text(sql), {"a": agent_id, "l": lead_id}).scalar_one()

        return {
            "leads": one("SELECT count(*) FROM leads WHERE agent_id = :a"),
            "interactions": one("SELECT count(*) FROM client_interactions WHERE agent_id = :a"),
            "status changes": one("SELECT count(*) FROM lead_history WHERE agent_id = :a"),
            "follow-ups": one("SELECT count(*) FROM appointments WHERE agent_id = :a"),
            "all interactions": one("SELECT count(*) FROM client_interactions"),
            "timeline entries": one(
                "SELECT (SELECT count(*) FROM client_interactions WHERE lead_id = :l)"
                " + (SELECT count(*) FROM lead_history WHERE lead_id = :l)"
                " + (SELECT count(*) FROM appointments WHERE lead_id = :l)"
                " + (SELECT count(*) FROM change_history WHERE lead_id = :l)"),
        }


def sign_in(app, agent_id: int):
    from tests.support.web import sign_in as browser_sign_in

    return browser_sign_in(app, agent_id)


def measure(client, path: str, warmup: int, requests: int) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU milliseconds of each timed request."""
    for _ in range(warmup):
        assert client.get(path).status_code == 200, path
    times, cpu = [], []
    for _ in range(requests):
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        assert response.status_code == 200, path
    return times, cpu


def explain_reports(app, client, path: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every SELECT the reports page issues."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "web_sessions" not in statement:
            statements.append((statement, parameters))

    engine = get_db(app).engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in statements:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("\n" + re.sub(r"\s+", " ", statement)[:300] + " ...")
            for (line,) in cursor.fetchall():
                print("   " + line)
    finally:
        raw.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL")
                        or DEFAULT_DATABASE_URL)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--other-agents", type=int, default=4)
    parser.add_argument("--target-ms", type=float, default=150.0)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()

    with TemporarySchema(args.database_url, "fl_webbench") as schema:
        migrate.upgrade(schema.url)
        app = create_app({"APP_ENV": "testing", "TESTING": True, "DATABASE_URL": schema.url,
                          "REDIS_URL": BENCH_REDIS_URL, "PUBLIC_BASE_URL": "https://bench.test",
                          "TWILIO_PHONE_NUMBER": "+13125550000"})
        started = time.perf_counter()
        agent_id, lead_id = build(app, args.other_agents)
        print(f"data: built in {time.perf_counter() - started:.1f} s; "
              + ", ".join(f"{k} {v:,}" for k, v in counts(app, agent_id, lead_id).items()))
        client = sign_in(app, agent_id)
        pages = {
            "/app": "/app",
            "lead page (500 entries)": f"/app/leads/{lead_id}",
            "its last timeline page (?page=5)": f"/app/leads/{lead_id}?page=5",
            "/app/reports": "/app/reports",
            "/app/reports?period=this_year": "/app/reports?period=this_year",
            "/app/agenda": "/app/agenda",
            "/app?q=lead 1-0042": "/app?q=lead%201-0042",
        }
        print(f"\nserver time per request, ms ({args.requests} timed after {args.warmup} "
              f"warm-up; target p95 <= {args.target_ms:.0f} for {', '.join(REQUIRED)}); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"{'page':34} {'p50':>7} {'p95':>7} {'max':>7}   {'app CPU p50':>11}")
        failed = []
        for name, path in pages.items():
            times, cpu = measure(client, path, args.warmup, args.requests)
            times.sort()
            p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
            flag = ""
            if name in REQUIRED and p95 > args.target_ms:
                failed.append(name)
                flag = "  OVER TARGET"
            print(f"{name:34} {statistics.median(times):7.1f} {p95:7.1f} {times[-1]:7.1f}   "
                  f"{statistics.median(cpu):11.1f}{flag}")
        if args.explain:
            explain_reports(app, client, "/app/reports?period=this_year")
        get_db(app).dispose()
    if failed:
        print(f"\nFAIL: p95 over {args.target_ms:.0f} ms for {', '.join(failed)}")
        return 1
    print(f"\nOK: every required page within p95 <= {args.target_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
