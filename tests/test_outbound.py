"""Outbound SMS with the real twilio client against a loopback stand-in of the Messages API.

The database is real (SQLite and PostgreSQL through the `app` fixture); what is asserted is
what Twilio would have seen: how many messages it accepted, with which auth, To, From, Body.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from flask import Flask
from sqlalchemy import select, update

from db.models import Message, User
from tests.support.settings import TEST_SETTINGS
from tests.support.twilio_standin import TwilioStandIn, num_segments
from webapp.app import create_app
from webapp.config import ConfigError
from webapp.database import get_db
from webapp.outbound.delivery import deliver, retry_delay
from webapp.outbound.messages import queue_text, requeue_stale_messages
from webapp.outbound.sender import (
    PermanentSendError,
    RecipientOptedOut,
    RecordingSender,
    RetryableSendError,
    SendOutcomeUnknown,
    TwilioSender,
    sender_from_config,
)
from workers.tasks import enqueue_send, send_message

ACCOUNT_SID = TEST_SETTINGS["TWILIO_ACCOUNT_SID"]
AUTH_TOKEN = TEST_SETTINGS["TWILIO_AUTH_TOKEN"]
FROM = TEST_SETTINGS["TWILIO_PHONE_NUMBER"]
AGENT_PHONE = "+13125550100"


@pytest.fixture
def sender(twilio_standin: TwilioStandIn) -> TwilioSender:
    return TwilioSender(
        ACCOUNT_SID, AUTH_TOKEN, FROM, base_url=twilio_standin.base_url, timeout=0.5,
        status_callback="https://fieldline.test/sms/status",
    )


@pytest.fixture
def on_standin(app: Flask, twilio_standin: TwilioStandIn) -> Flask:
    """The app configured as a deployment pointed at the stand-in (for the Celery task)."""
    app.config.update(
        SMS_SENDER="twilio", TWILIO_API_BASE_URL=twilio_standin.base_url, TWILIO_TIMEOUT=0.5
    )
    return app


def _queue(app: Flask, agent_id: int | None, body: str = "Done!", **kwargs) -> int:
    with get_db(app).session() as session:
        message = queue_text(session, agent_id=agent_id, phone=AGENT_PHONE, body=body, **kwargs)
        session.commit()
        return message.id


def _row(app: Flask, message_id: int) -> Message:
    with get_db(app).session() as session:
        return session.get_one(Message, message_id)


def _opted_out(app: Flask, agent_id: int) -> bool:
    with get_db(app).session() as session:
        return bool(session.scalar(select(User.opted_out).where(User.id == agent_id)))


def _deliver(app: Flask, message_id: int, sender, **kwargs) -> str:
    return deliver(get_db(app), message_id, sender, config=app.config, **kwargs)


# --- queueing -------------------------------------------------------------------------------


def test_queue_text_writes_the_promise_before_anything_is_sent(app: Flask, agent_id: int) -> None:
    with get_db(app).session() as session:
        message = queue_text(
            session, agent_id=agent_id, phone=AGENT_PHONE, body="Done!", plan_id="p1"
        )
        assert message.id is not None  # flushed: the caller can enqueue after committing
        session.rollback()  # the caller did not commit: nothing is promised
    with get_db(app).session() as session:
        assert session.scalars(select(Message)).all() == []

    row = _row(app, _queue(app, agent_id, plan_id="p1"))
    assert (row.direction, row.channel, row.status, row.provider_sid) == (
        "outbound", "sms", "queued", None
    )
    assert (row.phone, row.body, row.plan_id) == (AGENT_PHONE, "Done!", "p1")
    assert row.agent_id == agent_id


def test_queue_text_refuses_what_cannot_be_sent(app: Flask, agent_id: int) -> None:
    with get_db(app).session() as session:
        with pytest.raises(ValueError):
            queue_text(session, agent_id=agent_id, phone="3125550100", body="hi")
        with pytest.raises(ValueError):
            queue_text(session, agent_id=agent_id, phone=AGENT_PHONE, body="  ")


# --- the happy path through the real client ---------------------------------------------------


def test_a_send_reaches_twilio_with_auth_to_from_and_body(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id, body="✅ Done! Sarah Smith is now qualified.")

    assert _deliver(app, message_id, sender) == "sent"

    [request] = twilio_standin.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.headers["User-Agent"].startswith("twilio-python/")
    [sent] = twilio_standin.messages
    assert sent["To"] == AGENT_PHONE
    assert sent["From"] == FROM
    assert sent["Body"] == "✅ Done! Sarah Smith is now qualified."
    assert sent["StatusCallback"] == "https://fieldline.test/sms/status"
    row = _row(app, message_id)
    assert (row.status, row.provider_sid, row.error_code) == ("sent", sent.sid, None)


def test_the_client_is_really_pointed_at_the_configured_base_url(
    twilio_standin: TwilioStandIn,
) -> None:
    sender = sender_from_config(
        {**TEST_SETTINGS, "SMS_SENDER": "twilio", "TWILIO_API_BASE_URL": twilio_standin.base_url}
    )
    assert isinstance(sender, TwilioSender)
    assert sender.client.api.base_url == twilio_standin.base_url
    result = sender.send(AGENT_PHONE, "hello")
    assert result.status == "queued" and result.sid.startswith("SM") and len(result.sid) == 34
    assert [m.sid for m in twilio_standin.messages] == [result.sid]


# --- failures -------------------------------------------------------------------------------


def test_429_then_success_sends_one_message(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id)
    twilio_standin.fail_next(429)

    with pytest.raises(RetryableSendError) as excinfo:
        _deliver(app, message_id, sender)
    assert excinfo.value.code == "20429"
    assert _row(app, message_id).status == "queued"  # claimable again by the retry

    assert _deliver(app, message_id, sender) == "sent"
    assert len(twilio_standin.requests) == 2
    assert len(twilio_standin.messages) == 1


def test_the_task_retries_a_429_and_sends_once(
    on_standin: Flask, agent_id: int, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(on_standin, agent_id)
    twilio_standin.fail_next(429, times=2)

    # apply(): the task's own code, retries included, run eagerly (countdowns are skipped).
    assert send_message.apply(args=[message_id]).get() == "sent"

    assert [r.response_status for r in twilio_standin.requests] == [429, 429, 201]
    assert len(twilio_standin.messages) == 1
    assert _row(on_standin, message_id).provider_sid == twilio_standin.messages[0].sid


def test_500_until_retries_are_exhausted_ends_failed_with_a_reason(
    on_standin: Flask, agent_id: int, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(on_standin, agent_id)
    twilio_standin.fail_next(500, times=20)

    assert send_message.apply(args=[message_id]).get() == "failed"

    assert len(twilio_standin.requests) == send_message.max_retries + 1
    assert twilio_standin.messages == []
    row = _row(on_standin, message_id)
    assert (row.status, row.error_code) == ("failed", "retries:20500")


def test_final_attempt_of_deliver_fails_instead_of_raising(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id)
    twilio_standin.fail_next(503)
    assert _deliver(app, message_id, sender, final_attempt=True) == "failed"
    assert _row(app, message_id).error_code == "retries:20500"


def test_opted_out_recipient_marks_the_agent_and_is_not_retried(
    on_standin: Flask, agent_id: int, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(on_standin, agent_id)
    twilio_standin.fail_next(400, 21610)

    assert send_message.apply(args=[message_id]).get() == "failed"

    assert len(twilio_standin.requests) == 1
    row = _row(on_standin, message_id)
    assert (row.status, row.error_code) == ("failed", "21610")
    assert _opted_out(on_standin, agent_id)
    # ...and what is queued for them afterwards is not even attempted.
    later = _queue(on_standin, agent_id, body="late news")
    assert _row(on_standin, later).status == "suppressed"
    assert send_message.apply(args=[later]).get() == "suppressed"
    assert len(twilio_standin.requests) == 1


def test_sender_raises_recipient_opted_out(
    sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    twilio_standin.fail_next(400, 21610)
    with pytest.raises(RecipientOptedOut) as excinfo:
        sender.send(AGENT_PHONE, "hi")
    assert (excinfo.value.code, excinfo.value.http_status) == ("21610", 400)


@pytest.mark.parametrize(("status", "code"), [(400, 21211), (400, 21408), (401, 20003)])
def test_other_client_errors_fail_and_are_not_retried(
    on_standin: Flask, agent_id: int, twilio_standin: TwilioStandIn, status: int, code: int
) -> None:
    message_id = _queue(on_standin, agent_id)
    twilio_standin.fail_next(status, code)

    assert send_message.apply(args=[message_id]).get() == "failed"

    assert len(twilio_standin.requests) == 1
    row = _row(on_standin, message_id)
    assert (row.status, row.error_code) == ("failed", str(code))
    assert not _opted_out(on_standin, agent_id)


def test_wrong_credentials_are_a_permanent_error(twilio_standin: TwilioStandIn) -> None:
    sender = TwilioSender(ACCOUNT_SID, "wrong", FROM, base_url=twilio_standin.base_url)
    with pytest.raises(PermanentSendError) as excinfo:
        sender.send(AGENT_PHONE, "hi")
    assert (excinfo.value.code, excinfo.value.http_status) == ("20003", 401)
    assert twilio_standin.messages == []


def test_a_hang_past_the_timeout_is_unknown_and_never_sent_again(
    on_standin: Flask, agent_id: int, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(on_standin, agent_id)
    twilio_standin.hang_next(5)

    started = time.monotonic()
    assert send_message.apply(args=[message_id]).get() == "unknown"
    assert time.monotonic() - started < 3  # the explicit timeout (0.5 s) bounded the wait

    row = _row(on_standin, message_id)
    assert (row.status, row.error_code, row.provider_sid) == ("unknown", "read_timeout", None)
    assert len(twilio_standin.messages) == 1  # Twilio did accept it...
    assert send_message.apply(args=[message_id]).get() == "unknown"
    assert requeue_stale_messages(get_db(on_standin), timedelta(0)) == []
    assert len(twilio_standin.requests) == 1  # ...and it was not sent a second time


def test_sender_reports_an_unknown_outcome_on_read_timeout(
    sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    twilio_standin.hang_next(3)
    with pytest.raises(SendOutcomeUnknown) as excinfo:
        sender.send(AGENT_PHONE, "hi")
    assert excinfo.value.code == "read_timeout"
    assert len(twilio_standin.messages) == 1


def test_a_connection_dropped_after_sending_is_unknown(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id)
    twilio_standin.drop_next()

    assert _deliver(app, message_id, sender) == "unknown"
    assert _deliver(app, message_id, sender) == "unknown"
    assert len(twilio_standin.requests) == 1
    assert _row(app, message_id).error_code == "conn_dropped"


def test_no_connection_at_all_is_retryable(app: Flask, agent_id: int) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, FROM, base_url=f"http://127.0.0.1:{port}")
    message_id = _queue(app, agent_id)

    with pytest.raises(RetryableSendError) as excinfo:
        _deliver(app, message_id, sender)
    assert excinfo.value.code == "connect_failed"
    assert _row(app, message_id).status == "queued"


# --- at most once ---------------------------------------------------------------------------


def test_a_redelivered_task_sends_once(
    on_standin: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(on_standin, agent_id)
    assert _deliver(on_standin, message_id, sender) == "sent"
    assert _deliver(on_standin, message_id, sender) == "sent"
    assert send_message.apply(args=[message_id]).get() == "sent"
    assert len(twilio_standin.requests) == 1


def test_concurrent_deliveries_of_one_message_send_once(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id)
    twilio_standin.hang_next(0.2)  # the winner is still mid-send while the others try
    threads = 6
    start = threading.Barrier(threads)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            outcomes.append(_deliver(app, message_id, sender))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    assert errors == []
    assert len(twilio_standin.requests) == 1
    assert outcomes.count("sent") >= 1
    assert set(outcomes) <= {"sent", "sending"}
    assert _row(app, message_id).status == "sent"


# --- opted-out agents -----------------------------------------------------------------------


def test_opted_out_agent_is_not_texted_except_the_start_or_help_reply(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    with get_db(app).session() as session:
        session.execute(update(User).where(User.id == agent_id).values(opted_out=True))
        session.commit()

    suppressed = _queue(app, agent_id, body="Done!")
    assert _row(app, suppressed).status == "suppressed"
    assert _deliver(app, suppressed, sender) == "suppressed"
    assert twilio_standin.requests == []

    reply = _queue(app, agent_id, body="Fieldline help: ...", allow_opted_out=True)
    assert _deliver(app, reply, sender) == "sent"
    assert [m["Body"] for m in twilio_standin.messages] == ["Fieldline help: ..."]


# --- the recovery sweep ---------------------------------------------------------------------


def test_requeue_stale_messages(app: Flask, agent_id: int) -> None:
    now = datetime.now(UTC)
    old = now - timedelta(minutes=10)
    ids = {name: _queue(app, agent_id, body=name) for name in (
        "queued-old", "queued-new", "sending-old", "sending-new", "sent-old", "suppressed-old"
    )}
    with get_db(app).session() as session:
        for name, message_id in ids.items():
            status, age = name.rsplit("-", 1)
            session.execute(
                update(Message).where(Message.id == message_id).values(
                    status=status, updated_at=old if age == "old" else now
                )
            )
        session.commit()

    assert requeue_stale_messages(get_db(app), timedelta(minutes=2), now=now) == [
        ids["queued-old"]
    ]
    statuses = {name: _row(app, message_id).status for name, message_id in ids.items()}
    assert statuses == {
        "queued-old": "queued",
        "queued-new": "queued",
        "sending-old": "unknown",  # a worker died mid-send: never re-sent
        "sending-new": "sending",
        "sent-old": "sent",
        "suppressed-old": "suppressed",
    }
    assert _row(app, ids["sending-old"]).error_code == "stuck_sending"
    # Re-queued rows wait another grace period before the next sweep returns them.
    assert requeue_stale_messages(get_db(app), timedelta(minutes=2), now=now) == []
    later = now + timedelta(minutes=3)
    assert requeue_stale_messages(get_db(app), timedelta(minutes=2), now=later) == [
        ids["queued-old"], ids["queued-new"]
    ]


def test_a_late_answer_after_the_sweep_gave_up_still_records_the_sid(
    app: Flask, agent_id: int, sender: TwilioSender, twilio_standin: TwilioStandIn
) -> None:
    message_id = _queue(app, agent_id)
    twilio_standin.hang_next(0.3)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(_deliver(app, message_id, sender)))
    worker.start()
    deadline = time.monotonic() + 5
    while _row(app, message_id).status != "sending" and time.monotonic() < deadline:
        time.sleep(0.01)
    requeue_stale_messages(get_db(app), timedelta(0), now=datetime.now(UTC) + timedelta(1))
    worker.join(timeout=10)
    assert outcome == ["sent"]
    assert _row(app, message_id).provider_sid == twilio_standin.messages[0].sid


# --- the task, the broker, the configuration --------------------------------------------------


def test_enqueue_send_with_the_broker_down_returns_false_quickly() -> None:
    app = create_app(
        {**TEST_SETTINGS, "DATABASE_URL": "sqlite://", "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}
    )
    started = time.monotonic()
    with app.app_context():
        assert enqueue_send(12345) is False
    assert time.monotonic() - started < 10


def test_enqueue_send_publishes_the_task() -> None:
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://", "CELERY_BROKER_URL": "memory://"})
    with app.app_context():
        assert enqueue_send(12345) is True
    assert send_message.name == "workers.outbound.send_message"  # in-flight tasks keep working


def test_retry_delays_grow_with_jitter_and_stay_under_a_minute() -> None:
    for retries in range(10):
        ceiling = min(60.0, 2.0 ** (retries + 1))
        delays = [retry_delay(retries) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1


def test_sender_from_config() -> None:
    base = {**TEST_SETTINGS, "TWILIO_API_BASE_URL": "http://127.0.0.1:9", "TWILIO_TIMEOUT": 2.0}
    # Testing settings carry fake credentials: only an explicit choice reaches Twilio.
    assert isinstance(sender_from_config(base), RecordingSender)
    twilio = sender_from_config({**base, "SMS_SENDER": "twilio"})
    assert isinstance(twilio, TwilioSender)
    assert (twilio.base_url, twilio.timeout, twilio.from_number) == (
        "http://127.0.0.1:9", 2.0, FROM
    )
    assert twilio.client.http_client.timeout == 2.0
    assert isinstance(sender_from_config({**base, "APP_ENV": "development"}), TwilioSender)
    no_credentials = {**base, "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}
    for env in ("development", "testing"):
        assert isinstance(sender_from_config({**no_credentials, "APP_ENV": env}), RecordingSender)
    with pytest.raises(ConfigError):
        sender_from_config({**no_credentials, "APP_ENV": "production"})
    with pytest.raises(ConfigError):
        sender_from_config({**base, "APP_ENV": "production", "SMS_SENDER": "recording"})
    with pytest.raises(ConfigError):
        sender_from_config({**no_credentials, "SMS_SENDER": "twilio"})
    with pytest.raises(ConfigError):
        sender_from_config({**base, "SMS_SENDER": "carrier-pigeon"})


def test_the_recording_sender_simulates(app: Flask, agent_id: int) -> None:
    message_id = _queue(app, agent_id)
    assert _deliver(app, message_id, RecordingSender()) == "simulated"
    row = _row(app, message_id)
    assert row.status == "simulated" and row.provider_sid.startswith("SIM")


def test_production_refuses_to_simulate(app: Flask, agent_id: int) -> None:
    message_id = _queue(app, agent_id)
    with pytest.raises(ConfigError):
        deliver(get_db(app), message_id, RecordingSender(), config={"APP_ENV": "production"})
    assert _row(app, message_id).status == "queued"  # not lost: still waiting for a sender


# --- the stand-in itself --------------------------------------------------------------------


def test_the_standin_speaks_twilios_errors(twilio_standin: TwilioStandIn) -> None:
    url = f"{twilio_standin.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    auth = (ACCOUNT_SID, AUTH_TOKEN)
    answer = requests.post(url, data={"To": AGENT_PHONE, "From": FROM, "Body": "x"}, timeout=5)
    assert answer.status_code == 401 and answer.json()["code"] == 20003
    for form, code in [
        ({"From": FROM, "Body": "x"}, 21604),
        ({"To": AGENT_PHONE, "Body": "x"}, 21603),
        ({"To": AGENT_PHONE, "From": FROM}, 21602),
        ({"To": "not-a-number", "From": FROM, "Body": "x"}, 21211),
    ]:
        answer = requests.post(url, data=form, auth=auth, timeout=5)
        assert (answer.status_code, answer.json()["code"]) == (400, code)
        assert answer.json()["more_info"].endswith(str(code))
    answer = requests.post(
        url, data={"To": AGENT_PHONE, "MessagingServiceSid": "MG" + "1" * 32, "Body": "x" * 200},
        auth=auth, timeout=5,
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["status"] == "accepted" and body["num_segments"] == "2"
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert len(twilio_standin.messages) == 1


def test_segment_counts() -> None:
    assert num_segments("x" * 160) == 1
    assert num_segments("x" * 161) == 2
    assert num_segments("✅" * 70) == 1
    assert num_segments("✅" * 71) == 2
