"""Webhooks end to end with a real Celery worker (the test broker in Redis) and a loopback
receiver: a status changed by a signed SMS reaches the receiver, signed, once, within seconds;
a receiver that fails three times and then answers 200 gets the event delivered once.

Beat is played by the test where retries are involved: it runs the webhook sweep every 0.2 s,
as beat would every WEBHOOK_SWEEP_INTERVAL_SECONDS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask

from db.models import WebhookDelivery
from tests.support.databases import rows
from tests.support.sms import SmsPhone
from tests.support.waiting import wait_for
from tests.support.webhook_receiver import WebhookReceiver
from webapp.database import get_db
from webapp.integrations.delivery import DeliveryPolicy, sweep
from webapp.integrations.endpoints import register_endpoint
from workers.tasks import enqueue_webhook_deliveries

pytestmark = pytest.mark.integration


@pytest.fixture
def settings() -> dict:
    return {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": True, "WEBHOOK_RETRY_BASE_SECONDS": 0.2,
            "WEBHOOK_TIMEOUT": 2.0}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def secret(app: Flask, agent, receiver: WebhookReceiver) -> str:
    with get_db(app).session() as session:
        endpoint = register_endpoint(session, agent.id, receiver.url, [], allow_private=True)
        session.commit()
        return endpoint.secret


@pytest.fixture
def beat(app: Flask) -> Iterator[None]:
    """The webhook sweep every 0.2 s in a thread, as beat runs it."""
    stop = threading.Event()

    def run() -> None:
        with app.app_context():
            while not stop.wait(0.2):
                sweep(get_db(app), DeliveryPolicy.from_config(app.config),
                      enqueue_webhook_deliveries)

    thread = threading.Thread(target=run, name="test-beat", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=5)


def test_a_status_changed_by_sms_reaches_the_receiver_signed_once_within_seconds(
        app: Flask, phone: SmsPhone, receiver: WebhookReceiver, secret: str,
        celery_worker) -> None:
    assert "YES" in phone.text("Mark Sarah Smith as negotiating")
    confirmed_at = time.monotonic()
    phone.text("YES")
    wait_for(receiver.delivered, timeout=10)
    took = receiver.delivered()[0].at - confirmed_at
    time.sleep(1.0)  # anything twice would have come by now
    [event] = receiver.verified(secret)
    assert event["type"] == "lead.status_changed"
    assert (event["data"]["name"], event["data"]["status"]) == ("Sarah Smith", "negotiating")
    assert len(receiver.requests) == 1
    assert took < 5, f"took {took:.1f} s"
    assert rows(app, WebhookDelivery)[0].state == "delivered"


def test_a_receiver_failing_three_times_then_answering_200_gets_it_once(
        app: Flask, phone: SmsPhone, receiver: WebhookReceiver, secret: str, celery_worker,
        beat) -> None:
    receiver.answer_next(500, times=3)
    phone.text("Mark Dana Cole as closed won")
    phone.text("YES")
    wait_for(receiver.delivered, timeout=20)
    time.sleep(1.0)
    assert [r.answered for r in receiver.requests] == [500, 500, 500, 200]
    assert len({r.webhook_id for r in receiver.requests}) == 1  # one event, retried
    assert len(receiver.delivered()) == 1
    [row] = rows(app, WebhookDelivery)
    assert (row.state, row.attempts) == ("delivered", 4)
    assert receiver.verified(secret)[-1]["data"]["status"] == "closed_won"
