"""Integration API benchmark on PostgreSQL: listing 100 leads of an agent with 5,000, and
webhook delivery by two real Celery worker processes to a loopback receiver.

    .venv/bin/python bench/api_bench.py                      # both parts
    .venv/bin/python bench/api_bench.py --events 4000 --requests 1000
    .venv/bin/python bench/api_bench.py --skip-webhooks      # only the list latency

Part 1 (list). A fresh schema (TemporarySchema on TEST_DATABASE_URL, default
postgresql+psycopg://postgres@127.0.0.1:5432/test), migrated; one agent with `--leads` (5,000)
leads, a few with external ids. The app is built as a web process builds it and called
in-process through its WSGI interface (Flask's test client: the whole request path — key
lookup, rate limit in Redis, the query, serialization, response validation against the
OpenAPI models — without a network hop). `--requests` GET /api/v1/leads?limit=100 follow the
cursor through the agent's leads (and start over), after a warm-up. Figures: p50/p95/p99/max
milliseconds; target p99 <= 30 ms.

Part 2 (webhooks). One endpoint at a loopback receiver (tests/support/webhook_receiver.py,
threaded, keep-alive). `--events` events of distinct leads' status changes are written to the
outbox (as plan execution writes them), then queued at once; two `celery -A workers worker`
processes (threads pool, `--worker-concurrency` each, own process groups) deliver them.
Figures: events/s from the first queued to the last delivered, duplicates and misses (webhook-
ids received more than once / never: both must be 0); target >= 200 events/s.

Redis database 12 (`API_BENCH_REDIS_URL`, default CHAOS_REDIS_URL's) is emptied at the start and
the end: it must be nobody else's. Exit status 1 when a target is missed or an event is lost
or duplicated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from redis import Redis  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from db import migrate  # noqa: E402
from db.models import Lead, User, WebhookDelivery  # noqa: E402
from tests.support.databases import TemporarySchema  # noqa: E402
from tests.support.service_processes import BIN, ProcessGroups, service_env  # noqa: E402
from tests.support.twilio_standin import TwilioStandIn  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402
from webapp.app import create_app  # noqa: E402
from webapp.database import get_db  # noqa: E402
from webapp.integrations import outbox  # noqa: E402
from webapp.integrations.api_keys import create_key  # noqa: E402
from webapp.integrations.endpoints import register_endpoint  # noqa: E402
from webapp.integrations.representations import lead_json  # noqa: E402

REDIS_URL = os.environ.get("API_BENCH_REDIS_URL",
                           os.environ.get("CHAOS_REDIS_URL", "redis://localhost:6379/12"))
DATABASE_URL = os.environ.get("TEST_DATABASE_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LIST_P99_TARGET_MS = 30.0
EVENTS_PER_SECOND_TARGET = 200.0


def settings(database_url: str) -> dict:
    return {"APP_ENV": "testing", "DATABASE_URL": database_url, "REDIS_URL": REDIS_URL,
            "CELERY_BROKER_URL": None, "API_RATE_LIMIT_PER_MINUTE": 1_000_000,
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True, "LOG_LEVEL": "WARNING"}


def seed(app, leads: int) -> tuple[int, str]:
    with get_db(app).session() as session:
        agent = User(name="Bench Agent", phone="+13125550100", timezone="America/Chicago")
        session.add(agent)
        session.flush()
        session.execute(insert(Lead), [
            {"agent_id": agent.id, "name": f"Lead {n:05d}", "phone": f"+1312555{n:04d}",
             "status": "new", "external_ids": {"fub": str(n)} if n % 50 == 0 else {}}
            for n in range(leads)])
        _, key = create_key(session, agent.id, "bench")
        session.commit()
        return agent.id, key


def list_latency(app, key: str, requests: int, warmup: int) -> list[float]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    after = None
    timings: list[float] = []
    for n in range(warmup + requests):
        query = {"limit": 100, **({"after": after} if after else {})}
        started = time.perf_counter()
        response = client.get("/api/v1/leads", query_string=query, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body["data"]) == 100 or body["paging"]["next"] is None
        after = body["paging"]["next"]
        if n >= warmup:
            timings.append(elapsed)
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def webhooks(app, agent_id: int, events: int, concurrency: int, workdir: Path,
             database_url: str) -> dict:
    with ExitStack() as stack:
        receiver = stack.enter_context(WebhookReceiver())
        twilio = stack.enter_context(TwilioStandIn())
        with get_db(app).session() as session:
            register_endpoint(session, agent_id, receiver.url, [], allow_private=True)
            leads = list(session.scalars(select(Lead).where(Lead.agent_id == agent_id)
                                         .order_by(Lead.id).limit(events)))
            held: list[int] = []
            outbox.deliver_with(held.extend)  # queued below, all at once, timed
            for lead in leads:
                lead.status = "contacted"
            session.flush()
            for lead in leads:
                outbox.emit(session, agent_id, "lead.status_changed", lead_json(lead),
                            lead_id=lead.id)
            session.commit()
        metrics = workdir / "metrics"
        metrics.mkdir()
        env = service_env(database_url, REDIS_URL, twilio, "+13125550000", metrics,
                          WEBHOOK_ALLOW_PRIVATE_NETWORKS="true", LOG_LEVEL="WARNING")
        procs = ProcessGroups(env, workdir)
        stack.callback(procs.stop_all)
        for name in ("worker1", "worker2"):
            procs.start(name, [str(BIN / "celery"), "-A", "workers", "worker", "--pool",
                               "threads", "--concurrency", str(concurrency), "-n",
                               f"{name}@%h", "--loglevel", "WARNING", "--without-gossip",
                               "--without-mingle", "--without-heartbeat"])
        celery = app.extensions["celery"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = celery.control.ping(timeout=0.5)
            if {"worker1", "worker2"} <= {n.split("@")[0] for r in replies for n in r}:
                break
        else:
            raise SystemExit("workers did not start:\n" + procs.logs())
        from workers.tasks import enqueue_webhook_deliveries

        started = time.monotonic()
        queued = enqueue_webhook_deliveries(held)
        queued_in = time.monotonic() - started
        deadline = started + max(120, events / 20)
        while time.monotonic() < deadline:
            if len(receiver.delivered()) >= events:
                break
            time.sleep(0.02)
        finished = max((r.at for r in receiver.delivered()), default=time.monotonic())
        elapsed = finished - started
        time.sleep(1.0)
        ids = [r.webhook_id for r in receiver.delivered()]
        with get_db(app).session() as session:
            delivered_rows = session.scalar(select(func.count()).select_from(WebhookDelivery)
                                            .where(WebhookDelivery.state == "delivered"))
        return {"events": events, "queued": queued, "queue_seconds": queued_in,
                "seconds": elapsed, "per_second": len(set(ids)) / elapsed if elapsed else 0,
                "duplicates": len(ids) - len(set(ids)),
                "misses": events - len(set(ids)), "delivered_rows": delivered_rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--skip-webhooks", action="store_true")
    args = parser.parse_args()

    redis = Redis.from_url(REDIS_URL)
    redis.flushdb()
    ok = True
    with TemporarySchema(DATABASE_URL, "fl_apibench") as schema, \
            tempfile.TemporaryDirectory() as workdir:
        migrate.upgrade(schema.url)
        app = create_app(settings(schema.url))
        app.extensions["celery"].set_current()
        agent_id, key = seed(app, args.leads)
        print(f"PostgreSQL, one agent with {args.leads} leads")

        timings = list_latency(app, key, args.requests, args.warmup)
        p99 = percentile(timings, 99)
        print(f"GET /api/v1/leads?limit=100 x{len(timings)} (in-process WSGI): "
              f"p50 {percentile(timings, 50):.1f} ms, p95 {percentile(timings, 95):.1f} ms, "
              f"p99 {p99:.1f} ms, max {max(timings):.1f} ms, "
              f"mean {statistics.mean(timings):.1f} ms  (target p99 <= {LIST_P99_TARGET_MS} ms)")
        ok &= p99 <= LIST_P99_TARGET_MS

        if not args.skip_webhooks:
            result = webhooks(app, agent_id, min(args.events, args.leads),
                              args.worker_concurrency, Path(workdir), schema.url)
            print(f"webhooks: {result['events']} events, 2 worker processes (threads x"
                  f"{args.worker_concurrency}), loopback receiver: "
                  f"{result['per_second']:.0f} events/s ({result['seconds']:.2f} s; queueing "
                  f"took {result['queue_seconds']:.2f} s), duplicates {result['duplicates']}, "
                  f"misses {result['misses']}, rows delivered {result['delivered_rows']}  "
                  f"(target >= {EVENTS_PER_SECOND_TARGET:.0f}/s)")
            ok &= (result["per_second"] >= EVENTS_PER_SECOND_TARGET
                   and result["duplicates"] == 0 and result["misses"] == 0)
        get_db(app).dispose()
    redis.flushdb()
    print("OK" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
