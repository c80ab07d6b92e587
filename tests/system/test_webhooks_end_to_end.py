"""A webhook whose worker is killed mid-delivery is still delivered, with the same webhook-id.

A real `celery -A workers worker` process (prefork) takes the delivery and POSTs it to a
loopback receiver that holds the request open; the whole worker process group is SIGKILLed
while it waits. A second worker process is started, and the webhook sweep (run here as beat
would, with a short "stuck" threshold) finds the delivery left `delivering`, puts it back, and
the second worker delivers it. The receiver sees the event twice with one webhook-id, which is
how a Standard Webhooks receiver drops the duplicate.

Needs PostgreSQL (TEST_DATABASE_URL; skipped without it) and the Redis db CHAOS_REDIS_URL,
which it empties before and after.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import select

from db import migrate
from db.models import Lead, User, WebhookDelivery
from tests.support.chaos import CHAOS_REDIS_URL
from tests.support.databases import TemporarySchema
from tests.support.service_processes import BIN, ProcessGroups, service_env
from tests.support.twilio_standin import TwilioStandIn
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import WebhookReceiver
from webapp.app import create_app
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.integrations.delivery import DeliveryPolicy, sweep
from webapp.integrations.endpoints import register_endpoint
from workers.tasks import enqueue_webhook_deliveries

pytestmark = pytest.mark.integration


def test_a_worker_killed_mid_delivery_is_delivered_again_with_the_same_webhook_id(
        postgres_base_url: str, tmp_path: Path) -> None:
    redis = Redis.from_url(CHAOS_REDIS_URL, socket_timeout=2)
    redis.flushdb()
    with TemporarySchema(postgres_base_url, "fl_hooks") as schema, \
            WebhookReceiver() as receiver, TwilioStandIn() as twilio:
        migrate.upgrade(schema.url)
        env = service_env(schema.url, CHAOS_REDIS_URL, twilio, "+13125550000",
                          tmp_path / "metrics", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
                          WEBHOOK_TIMEOUT="30", LOG_LEVEL="WARNING")
        (tmp_path / "metrics").mkdir()
        app = create_app({"APP_ENV": "testing", "TESTING": True, "DATABASE_URL": schema.url,
                          "REDIS_URL": CHAOS_REDIS_URL, "CELERY_BROKER_URL": None,
                          "WEBHOOK_ALLOW_PRIVATE_NETWORKS": True,
                          # the sweep's "stuck" threshold: 2 × 1 s + 1 s here, for speed
                          "WEBHOOK_TIMEOUT": 1.0, "RECOVERY_GRACE_SECONDS": 1})
        app.extensions["celery"].set_current()
        procs = ProcessGroups(env, tmp_path)

        def worker(name: str) -> None:
            procs.start(name, [str(BIN / "celery"), "-A", "workers", "worker", "--pool",
                               "prefork", "--concurrency", "1", "-n", f"{name}@%h",
                               "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                               "--without-heartbeat"])

        try:
            with get_db(app).session() as session:
                agent = User(name="Alex Rivera", phone="+13125550100",
                             timezone="America/Chicago")
                session.add(agent)
                session.flush()
                lead = Lead(agent_id=agent.id, name="Sarah Smith", status="contacted")
                session.add(lead)
                register_endpoint(session, agent.id, receiver.url, [], allow_private=True)
                session.commit()
                agent_id, lead_id = agent.id, lead.id
            receiver.hang_next(60)  # the first attempt never gets its answer
            worker("worker-a")
            with app.app_context():  # the change commits, and its event is queued
                outcome = run_plan_now(get_db(app), agent_id, [
                    {"type": "update_status", "lead_id": lead_id, "lead": "Sarah Smith",
                     "status": "negotiating"}], "web")
            assert outcome.state == "executed"
            wait_for(lambda: receiver.requests, timeout=30)
            procs.kill_group("worker-a")  # mid-delivery: the POST is still waiting
            assert _state(app) == "delivering"

            worker("worker-b")
            policy = DeliveryPolicy.from_config(app.config)
            assert policy.stuck_after == timedelta(seconds=3)

            def sweep_until_delivered() -> bool:
                with app.app_context():
                    sweep(get_db(app), policy, enqueue_webhook_deliveries)
                return bool(receiver.delivered())

            wait_for(sweep_until_delivered, timeout=45, interval=0.5)
            time.sleep(1.0)
            ids = [r.webhook_id for r in receiver.requests]
            assert len(ids) == 2 and len(set(ids)) == 1, ids
            assert len(receiver.delivered()) == 1
            assert _state(app) == "delivered"
        except BaseException:
            print(procs.logs())
            raise
        finally:
            procs.stop_all()
            get_db(app).dispose()
            redis.flushdb()


def _state(app) -> str:
    with get_db(app).session() as session:
        return session.scalar(select(WebhookDelivery.state))
