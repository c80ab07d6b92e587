"""Outbound webhooks in-process, against a loopback receiver, on SQLite and PostgreSQL: the
outbox written with every channel's changes, signing, retries, 410, order per lead, blocked
addresses, the sweep, failed deliveries and re-sending them.

Deliveries here are run by calling `deliver` as the task would; tests/test_webhooks_worker.py
runs them through a real Celery worker.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from db.models import Lead, User, WebhookDelivery, WebhookEndpoint
from tests.support.api import ApiClient
from tests.support.databases import rows
from tests.support.webhook_receiver import WebhookReceiver
from webapp.crm.book_transfer import import_book
from webapp.crm.lead_import import import_leads
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.integrations import outbox
from webapp.integrations.delivery import (
    DeliveryPolicy,
    deliver,
    deliver_batch,
    resend,
    retry_after_seconds,
    retry_delay,
    sweep,
)
from webapp.integrations.endpoints import register_endpoint

LOOPBACK = {"WEBHOOK_ALLOW_PRIVATE_NETWORKS": True, "WEBHOOK_RETRY_BASE_SECONDS": 5.0,
            "WEBHOOK_TIMEOUT": 2.0}


@pytest.fixture
def settings() -> dict:
    return dict(LOOPBACK)


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture(autouse=True)
def no_hand_off(app: Flask):
    """Deliveries are run by each test itself here, not handed to a broker."""
    queued: list[int] = []
    outbox.deliver_with(queued.extend)
    yield queued
    outbox.deliver_with(None)


def _endpoint(app: Flask, agent_id: int, url: str, events: list[str] = (),
              allow_private: bool = True) -> WebhookEndpoint:
    with get_db(app).session() as session:
        endpoint = register_endpoint(session, agent_id, url, events, allow_private=allow_private)
        session.commit()
        return endpoint


def _lead(app: Flask, name: str) -> Lead:
    with get_db(app).session() as session:
        return session.scalars(select(Lead).where(Lead.name == name)).one()


def _status(app: Flask, agent_id: int, name: str, status: str, channel: str = "sms"):
    lead = _lead(app, name)
    return run_plan_now(get_db(app), agent_id, [{"type": "update_status", "lead_id": lead.id,
                                                 "lead": lead.name, "status": status}], channel)


def _policy(app: Flask) -> DeliveryPolicy:
    return DeliveryPolicy.from_config(app.config)


def _deliveries(app: Flask) -> list[WebhookDelivery]:
    return rows(app, WebhookDelivery)


def _deliver_all(app: Flask, now: datetime | None = None) -> list[str]:
    return [deliver(get_db(app), d.id, _policy(app), now=now).state for d in _deliveries(app)
            if d.state == "pending"]


# --- the outbox ----------------------------------------------------------------------------

def test_a_change_writes_its_event_in_the_same_transaction(app: Flask, agent, receiver,
                                                           no_hand_off) -> None:
    endpoint = _endpoint(app, agent.id, receiver.url)
    outcome = _status(app, agent.id, "Sarah Smith", "negotiating")
    [delivery] = _deliveries(app)
    assert (delivery.event_type, delivery.endpoint_id, delivery.state) == \
        ("lead.status_changed", endpoint.id, "pending")
    assert delivery.message_id.startswith("msg_") and no_hand_off == [delivery.id]
    payload = json.loads(delivery.payload)
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["status"] == "negotiating"
    assert outcome.state == "executed"


def test_a_plan_that_fails_writes_no_event(app: Flask, agent, receiver, no_hand_off) -> None:
    _endpoint(app, agent.id, receiver.url)
    sarah = _lead(app, "Sarah Smith")
    outcome = run_plan_now(get_db(app), agent.id, [
        {"type": "update_status", "lead_id": sarah.id, "lead": sarah.name, "status": "qualified"},
        {"type": "update_status", "lead_id": 999999, "lead": "Gone", "status": "qualified"},
    ], "sms")
    assert outcome.state == "failed"
    assert not _deliveries(app) and not no_hand_off


def test_no_endpoint_no_event_and_each_endpoint_gets_what_it_asked_for(app: Flask, agent,
                                                                       receiver) -> None:
    _status(app, agent.id, "Sarah Smith", "qualified")
    assert not _deliveries(app)
    every = _endpoint(app, agent.id, receiver.url)
    only_created = _endpoint(app, agent.id, receiver.url + "/2", ["lead.created"])
    _status(app, agent.id, "Sarah Smith", "negotiating")
    assert [d.endpoint_id for d in _deliveries(app)] == [every.id]
    with get_db(app).session() as session:
        session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == every.id)
                        .values(state="disabled"))
        session.commit()
    run_plan_now(get_db(app), agent.id, [{"type": "create_lead", "name": "Nina Park",
                                          "phone": None, "email": None}], "voice")
    assert [(d.endpoint_id, d.event_type) for d in _deliveries(app)][1:] == \
        [(only_created.id, "lead.created")]


def test_every_kind_of_change_announces_its_event_and_undo_its_reverse(app: Flask, agent,
                                                                        receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    dana = _lead(app, "Dana Cole")
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    plan = run_plan_now(get_db(app), agent.id, [
        {"type": "create_lead", "name": "Nina Park", "phone": None, "email": None},
        {"type": "update_status", "lead_id": dana.id, "lead": dana.name, "status": "qualified"},
        {"type": "update_status", "lead_id": dana.id, "lead": dana.name, "status": "qualified"},
        {"type": "update_lead", "lead_id": dana.id, "lead": dana.name, "email": "d@x.com"},
        {"type": "log_interaction", "lead_id": dana.id, "lead": dana.name,
         "interaction_type": "call", "note": ""},
        {"type": "schedule_follow_up", "lead_id": dana.id, "lead": dana.name,
         "due_at": due.isoformat(), "title": "call back"},
    ], "web")
    assert plan.state == "executed", plan.error
    follow_up_id = plan.effects[-1]["appointment_id"]
    follow_up = {"lead_id": dana.id, "lead": dana.name, "appointment_id": follow_up_id,
                 "title": "call back", "due_at": due.isoformat()}
    later = (due + timedelta(days=1)).isoformat()
    assert run_plan_now(get_db(app), agent.id, [
        {**follow_up, "type": "reschedule_follow_up", "due_at": later,
         "old_due_at": due.isoformat(), "old_title": "call back"},
        {**follow_up, "type": "complete_follow_up", "due_at": later},
    ], "sms").state == "executed"
    undo = run_plan_now(get_db(app), agent.id, [], "sms", undo_of=plan.plan_id)
    assert undo.state == "executed", undo.error
    assert [d.event_type for d in _deliveries(app)] == [
        "lead.created", "lead.status_changed", "lead.updated",  # a status set twice: once
        "interaction.created", "follow_up.created",
        "follow_up.rescheduled", "follow_up.completed",
        # the undo, newest first: the follow-up was closed since, so undoing it changes nothing
        "interaction.deleted", "lead.updated", "lead.status_changed", "lead.deleted",
    ]


def test_an_import_announces_each_new_lead(app: Flask, agent, receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    with get_db(app).session() as session:
        user = session.get(User, agent.id)
        result = import_leads(session, user, io.StringIO(
            "name,phone,email,status\nNina Park,312-555-0177,,qualified\nJohn Doe,,,\n"), "US")
        session.commit()
    assert result.created == 2
    events = [json.loads(d.payload) for d in _deliveries(app)]
    assert [(e["type"], e["data"]["name"], e["data"]["source"]) for e in events] == \
        [("lead.created", "Nina Park", "import"), ("lead.created", "John Doe", "import")]


def test_a_book_import_announces_what_it_adds_and_changes(app: Flask, agent, receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    book = {"leads": [{"name": "Nina Park", "phone": "+13125550177", "status": "qualified"},
                      {"name": "Sarah Smith", "phone": "+13125550125", "status": "negotiating"}],
            "interactions": [{"lead": "Nina Park", "type": "call", "note": "hello",
                              "at": "2026-03-05T11:20:00-06:00"}],
            "follow_ups": [{"lead": "Sarah Smith", "title": "send comps",
                            "due_at": "2099-03-09T14:00:00-05:00", "state": "open"}],
            "status_history": [{"lead": "Nina Park", "old": "new", "new": "qualified",
                                "at": "2026-03-05T11:25:00-06:00"}]}
    with get_db(app).session() as session:
        report = import_book(session, session.get(User, agent.id), book, "US")
        assert not report.errors
        session.commit()
    events = [json.loads(d.payload) for d in _deliveries(app)]
    assert [(e["type"], e["data"].get("name") or e["data"].get("title") or e["data"]["type"])
            for e in events] == [("lead.created", "Nina Park"),
                                 ("lead.status_changed", "Sarah Smith"),
                                 ("interaction.created", "call"),
                                 ("follow_up.created", "send comps")]
    assert events[2]["data"]["channel"] == "import"
    with get_db(app).session() as session:  # twice: nothing new, nothing announced
        import_book(session, session.get(User, agent.id), book, "US")
        session.commit()
    assert len(_deliveries(app)) == 4


# --- delivering ----------------------------------------------------------------------------

def test_a_delivery_is_signed_per_standard_webhooks_and_carries_the_api_object(
        app: Flask, agent, receiver) -> None:
    endpoint = _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    assert _deliver_all(app) == ["delivered"]
    [request] = receiver.requests
    [event] = receiver.verified(endpoint.secret)
    assert request.webhook_id == _deliveries(app)[0].message_id
    assert request.headers["webhook-signature"].startswith("v1,")
    assert event["type"] == "lead.status_changed"
    sarah = _lead(app, "Sarah Smith")
    api = ApiClient(app, _api_key(app, agent.id))
    assert event["data"] == api.get(f"/leads/{sarah.id}").get_json()
    with pytest.raises(Exception, match="signature"):
        receiver.verified("whsec_" + "QUJD" * 8)  # another secret does not verify


def _api_key(app: Flask, agent_id: int) -> str:
    from tests.support.api import new_key
    return new_key(app, agent_id)


def test_a_failed_attempt_is_retried_later_with_backoff_and_retry_after(app: Flask, agent,
                                                                        receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    receiver.answer_next(500)
    now = datetime.now(UTC)
    assert _deliver_all(app, now) == ["pending"]
    row = _deliveries(app)[0]
    assert (row.attempts, row.last_status) == (1, 500)
    assert now + timedelta(seconds=2.5) <= row.next_attempt_at <= now + timedelta(seconds=5)
    assert deliver(get_db(app), row.id, _policy(app), now=now).state == "not_due"
    receiver.answer_next(429, retry_after="120")
    later = row.next_attempt_at
    assert deliver(get_db(app), row.id, _policy(app), now=later).state == "pending"
    row = _deliveries(app)[0]
    assert row.next_attempt_at >= later + timedelta(seconds=120)
    assert deliver(get_db(app), row.id, _policy(app), now=row.next_attempt_at).state == \
        "delivered"
    assert [r.answered for r in receiver.requests] == [500, 429, 200]
    assert len({r.webhook_id for r in receiver.requests}) == 1


def test_410_gone_disables_the_endpoint(app: Flask, agent, receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    _status(app, agent.id, "John Doe", "negotiating")
    receiver.answer_next(410)
    assert _deliver_all(app) == ["failed", "failed"]
    assert len(receiver.requests) == 1  # the second is not even tried
    assert rows(app, WebhookEndpoint)[0].state == "disabled"
    assert [d.last_error for d in _deliveries(app)] == ["410 Gone", "endpoint disabled"]
    _status(app, agent.id, "Dana Cole", "closed_won")
    assert len(_deliveries(app)) == 2  # nothing more is written for it


def test_retries_stop_after_about_a_day_then_failed_is_listed_and_can_be_resent(
        app: Flask, agent, receiver, cli) -> None:
    _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    delivery = _deliveries(app)[0]
    receiver.answer_next(503, times=50)
    now = datetime.now(UTC)
    attempts = 0
    while _deliveries(app)[0].state == "pending":
        row = _deliveries(app)[0]
        deliver(get_db(app), row.id, _policy(app), now=max(now, row.next_attempt_at))
        attempts += 1
        assert attempts < 40
    row = _deliveries(app)[0]
    assert row.state == "failed" and "gave up after" in row.last_error
    assert 10 <= attempts <= 30  # backoff 5 s, 10 s, ... capped at 4 h: a day's worth
    listed = cli.invoke(args=["webhooks", "failed"])
    assert listed.exit_code == 0 and delivery.message_id in listed.output
    receiver.reset()
    resent = cli.invoke(args=["webhooks", "resend", str(delivery.id)])
    assert resent.exit_code == 0 and "Queued 1" in resent.output
    assert _deliver_all(app) == ["delivered"]
    assert receiver.requests[0].webhook_id == delivery.message_id  # the same id again


def test_one_leads_events_go_in_order(app: Flask, agent, receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    for status in ("qualified", "negotiating", "closed_won"):
        _status(app, agent.id, "Sarah Smith", status)
    _status(app, agent.id, "John Doe", "qualified")
    first, second, third, johns = (d.id for d in _deliveries(app))
    db, policy = get_db(app), _policy(app)
    assert deliver(db, second, policy).state == "blocked"
    assert deliver(db, third, policy).state == "blocked"
    assert deliver(db, johns, policy).state == "delivered"  # another lead: not held up
    receiver.answer_next(500)
    assert deliver(db, first, policy).state == "pending"
    assert deliver(db, second, policy).state == "blocked"  # still behind the retried one
    retry_at = _deliveries(app)[0].next_attempt_at
    result = deliver(db, first, policy, now=retry_at)
    assert (result.state, result.next_id) == ("delivered", second)
    assert deliver(db, second, policy).next_id == third
    assert deliver(db, third, policy).state == "delivered"
    statuses = [r.event["data"]["status"] for r in receiver.delivered()
                if r.event["data"]["name"] == "Sarah Smith"]
    assert statuses == ["qualified", "negotiating", "closed_won"]


def test_a_batch_is_claimed_at_once_and_keeps_each_leads_order(app: Flask, agent,
                                                                receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "qualified")
    _status(app, agent.id, "Sarah Smith", "negotiating")
    _status(app, agent.id, "John Doe", "qualified")
    first, second, johns = (d.id for d in _deliveries(app))
    results = deliver_batch(get_db(app), [first, second, johns], _policy(app))
    assert {k: v.state for k, v in results.items()} == {
        first: "delivered", second: "blocked", johns: "delivered"}
    assert results[first].next_id == second and results[johns].next_id is None
    assert deliver_batch(get_db(app), [second], _policy(app))[second].state == "delivered"
    assert [r.event["data"]["status"] for r in receiver.delivered()] == [
        "qualified", "qualified", "negotiating"]


def test_an_endpoint_that_does_not_answer_holds_back_the_rest_of_its_batch(app: Flask,
                                                                           agent) -> None:
    _endpoint(app, agent.id, "http://127.0.0.1:9/hooks")  # nothing listens there
    for name in ("Sarah Smith", "John Doe", "Dana Cole"):
        _status(app, agent.id, name, "closed_won")
    ids = [d.id for d in _deliveries(app)]
    results = deliver_batch(get_db(app), ids, _policy(app))
    assert {r.state for r in results.values()} == {"pending"}
    tried, *held = _deliveries(app)
    assert (tried.attempts, tried.last_error) == (1, "ConnectionError")
    assert [(d.attempts, d.next_attempt_at) for d in held] == [(0, tried.next_attempt_at)] * 2


@pytest.mark.parametrize("settings", [{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}])
def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(app: Flask, agent, receiver,
                                                                 settings) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost")
    _endpoint(app, agent.id, url, allow_private=False)  # a name passes registration...
    _status(app, agent.id, "Sarah Smith", "negotiating")
    assert _deliver_all(app) == ["failed"]  # ...but not the check on the connected address
    assert not receiver.requests
    assert "private or loopback" in _deliveries(app)[0].last_error


def test_a_url_that_is_not_http_is_never_called(app: Flask, agent) -> None:
    _endpoint(app, agent.id, "http://127.0.0.1:9/hooks")
    with get_db(app).session() as session:  # as if changed behind the registration's back
        session.execute(update(WebhookEndpoint).values(url="file:///etc/passwd"))
        session.commit()
    _status(app, agent.id, "Sarah Smith", "negotiating")
    assert _deliver_all(app) == ["failed"]
    assert "http" in _deliveries(app)[0].last_error


def test_the_sweep_queues_due_retries_and_frees_what_a_dead_worker_left(app: Flask, agent,
                                                                        receiver) -> None:
    _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    _status(app, agent.id, "John Doe", "negotiating")
    sarahs, johns = (d.id for d in _deliveries(app))
    policy = _policy(app)
    now = datetime.now(UTC)
    with get_db(app).session() as session:  # a worker claimed Sarah's, then died
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == sarahs)
                        .values(state="delivering", claimed_at=now, attempts=1))
        session.commit()
    queued: list[int] = []
    assert sweep(get_db(app), policy, queued.extend, now=now) == {"freed": 0, "queued": 0}
    later = now + policy.stuck_after + timedelta(seconds=1)
    assert sweep(get_db(app), policy, queued.extend, now=later) == {"freed": 1, "queued": 2}
    assert sorted(queued) == [sarahs, johns]
    # queued again only after the grace period, if its task never ran
    assert sweep(get_db(app), policy, queued.extend, now=later)["queued"] == 0
    assert deliver(get_db(app), sarahs, policy, now=later).state == "delivered"
    assert resend(get_db(app), None) == []


def test_retry_delays_grow_with_jitter_up_to_four_hours() -> None:
    for attempts in range(1, 30):
        ceiling = min(4 * 3600, 5 * 2 ** (attempts - 1))
        assert ceiling / 2 <= retry_delay(attempts, 5.0) <= ceiling
    now = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds("Thu, 05 Mar 2026 12:01:00 GMT", now) == 60
    assert retry_after_seconds("soon", now) is None


def test_the_cli_adds_a_webhook_and_prints_its_secret_last(app: Flask, agent, cli) -> None:
    result = cli.invoke(args=["webhooks", "add", "--agent", "312-555-0100", "--url",
                              "https://crm.example.com/h", "--events",
                              "lead.created,lead.updated"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    endpoint = rows(app, WebhookEndpoint)[0]
    assert endpoint.secret == secret and endpoint.events == ["lead.created", "lead.updated"]
    bad = cli.invoke(args=["webhooks", "add", "--agent", "312-555-0100", "--url",
                           "gopher://x.example"])
    assert bad.exit_code != 0 and "http" in bad.output
    listed = cli.invoke(args=["webhooks", "list"])
    assert "https://crm.example.com/h" in listed.output


def test_api_keys_cli_creates_lists_and_revokes(app: Flask, agent, cli) -> None:
    created = cli.invoke(args=["api-keys", "create", "--agent", "+13125550100", "--name",
                               "FUB sync"])
    assert created.exit_code == 0, created.output
    raw = created.output.strip().splitlines()[-1]
    assert raw.startswith("fl_")
    client = ApiClient(app, raw)
    assert client.get("/leads").status_code == 200
    listed = cli.invoke(args=["api-keys", "list"])
    assert "FUB sync" in listed.output and raw not in listed.output
    key_id = listed.output.splitlines()[1].split("\t")[0]
    assert cli.invoke(args=["api-keys", "revoke", key_id]).exit_code == 0
    assert client.get("/leads").status_code == 401
    assert cli.invoke(args=["api-keys", "revoke", "9999"]).exit_code != 0


def test_deleting_an_endpoint_drops_what_waited_for_it(app: Flask, agent, receiver) -> None:
    endpoint = _endpoint(app, agent.id, receiver.url)
    _status(app, agent.id, "Sarah Smith", "negotiating")
    api = ApiClient(app, _api_key(app, agent.id))
    assert api.delete(f"/webhooks/{endpoint.id}").status_code == 204
    assert not _deliveries(app)


def test_a_webhook_registered_through_the_api_receives_api_changes(app: Flask, agent,
                                                                   receiver) -> None:
    api = ApiClient(app, _api_key(app, agent.id))
    hook = api.post("/webhooks", {"url": receiver.url, "events": ["lead.created"]}).get_json()
    created = api.post("/leads", {"name": "Nina Park"}).get_json()
    assert _deliver_all(app) == ["delivered"]
    [event] = receiver.verified(hook["secret"])
    assert (event["type"], event["data"]) == ("lead.created", created)
