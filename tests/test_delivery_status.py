"""Twilio status callbacks: duplicated and out of order, a row's status only moves forward."""

from __future__ import annotations

import itertools
import threading

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import Message, User
from tests.support.settings import TEST_SETTINGS
from tests.support.twilio_standin import TwilioStandIn
from webapp.database import get_db
from webapp.outbound.delivery import deliver
from webapp.outbound.delivery_status import STATUS_RANK, record_status
from webapp.outbound.messages import queue_text
from webapp.outbound.sender import TwilioSender

AGENT_PHONE = "+13125550100"


def _sent_message(app: Flask, agent_id: int, sid: str, status: str = "sent") -> int:
    with get_db(app).session() as session:
        message = Message(
            direction="outbound", channel="sms", agent_id=agent_id, phone=AGENT_PHONE,
            body="Done!", status=status, provider_sid=sid,
        )
        session.add(message)
        session.commit()
        return message.id


def _callback(app: Flask, sid: str, status: str, error_code: str | None = None) -> bool:
    with get_db(app).session() as session:
        known = record_status(session, sid, status, error_code)
        session.commit()
        return known


def _row(app: Flask, message_id: int) -> Message:
    with get_db(app).session() as session:
        return session.get_one(Message, message_id)


def _opted_out(app: Flask, agent_id: int) -> bool:
    with get_db(app).session() as session:
        return bool(session.scalar(select(User.opted_out).where(User.id == agent_id)))


def test_callbacks_move_the_status_forward(app: Flask, agent_id: int) -> None:
    message_id = _sent_message(app, agent_id, "SM" + "a" * 32)
    assert _callback(app, "SM" + "a" * 32, "delivered")
    assert _row(app, message_id).status == "delivered"
    assert _callback(app, "SM" + "a" * 32, "read")
    assert _row(app, message_id).status == "read"


def test_a_late_sent_after_delivered_changes_nothing(app: Flask, agent_id: int) -> None:
    sid = "SM" + "b" * 32
    message_id = _sent_message(app, agent_id, sid)
    for status in ("delivered", "sent", "sending", "queued", "delivered", "delivered"):
        assert _callback(app, sid, status) is True  # the sid is known: the callback was handled
    assert _row(app, message_id).status == "delivered"


def test_twilios_own_queued_and_sending_do_not_undo_our_sent(app: Flask, agent_id: int) -> None:
    sid = "SM" + "c" * 32
    message_id = _sent_message(app, agent_id, sid)
    _callback(app, sid, "queued")
    _callback(app, sid, "sending")
    assert _row(app, message_id).status == "sent"


def test_the_first_final_status_stays(app: Flask, agent_id: int) -> None:
    sid = "SM" + "d" * 32
    message_id = _sent_message(app, agent_id, sid)
    assert _callback(app, sid, "undelivered", "30003")
    assert _callback(app, sid, "delivered")
    assert _callback(app, sid, "failed", "30005")
    row = _row(app, message_id)
    assert (row.status, row.error_code) == ("undelivered", "30003")


@pytest.mark.parametrize(
    "order", list(itertools.permutations(["queued", "sending", "sent", "delivered", "sent"]))[::7]
)
def test_any_arrival_order_ends_delivered(app: Flask, agent_id: int, order: tuple) -> None:
    sid = "SM" + "e" * 32
    message_id = _sent_message(app, agent_id, sid, status="sent")
    for status in order:
        _callback(app, sid, status)
    assert _row(app, message_id).status == "delivered"


def test_racing_callbacks_never_move_backwards(app: Flask, agent_id: int) -> None:
    sid = "SM" + "f" * 32
    message_id = _sent_message(app, agent_id, sid)
    statuses = ["sending", "sent", "delivered", "sent", "queued", "delivered"] * 3
    start = threading.Barrier(len(statuses))

    def post(status: str) -> None:
        start.wait()
        _callback(app, sid, status)

    threads = [threading.Thread(target=post, args=(status,)) for status in statuses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert _row(app, message_id).status == "delivered"


def test_unknown_sid_is_reported(app: Flask, agent_id: int) -> None:
    assert _callback(app, "SM" + "0" * 32, "delivered") is False


def test_an_undocumented_status_is_ignored(app: Flask, agent_id: int) -> None:
    sid = "SM" + "1" * 32
    message_id = _sent_message(app, agent_id, sid)
    assert _callback(app, sid, "teleported") is True
    assert _row(app, message_id).status == "sent"


def test_21610_marks_the_agent_opted_out(app: Flask, agent_id: int) -> None:
    sid = "SM" + "2" * 32
    message_id = _sent_message(app, agent_id, sid)
    assert _callback(app, sid, "failed", "21610")
    row = _row(app, message_id)
    assert (row.status, row.error_code) == ("failed", "21610")
    assert _opted_out(app, agent_id)
    with get_db(app).session() as session:
        later = queue_text(session, agent_id=agent_id, phone=AGENT_PHONE, body="late news")
        assert later.status == "suppressed"


def test_other_errors_do_not_opt_the_agent_out(app: Flask, agent_id: int) -> None:
    sid = "SM" + "3" * 32
    _sent_message(app, agent_id, sid)
    _callback(app, sid, "undelivered", "30003")
    assert not _opted_out(app, agent_id)


def test_an_unknown_outcome_is_replaced_by_real_news(app: Flask, agent_id: int) -> None:
    sid = "SM" + "4" * 32
    message_id = _sent_message(app, agent_id, sid, status="unknown")
    assert _callback(app, sid, "sent")
    assert _row(app, message_id).status == "sent"


def test_every_status_the_worker_writes_is_ranked() -> None:
    for status in ("queued", "sending", "sent", "simulated", "failed", "unknown", "suppressed"):
        assert status in STATUS_RANK
    assert STATUS_RANK["queued"] < STATUS_RANK["sending"] < STATUS_RANK["sent"]
    assert STATUS_RANK["sent"] < STATUS_RANK["delivered"] == STATUS_RANK["undelivered"]
    assert STATUS_RANK["delivered"] < STATUS_RANK["read"]


def test_a_real_send_then_its_callbacks(
    app: Flask, agent_id: int, twilio_standin: TwilioStandIn
) -> None:
    sender = TwilioSender(
        TEST_SETTINGS["TWILIO_ACCOUNT_SID"], TEST_SETTINGS["TWILIO_AUTH_TOKEN"],
        TEST_SETTINGS["TWILIO_PHONE_NUMBER"], base_url=twilio_standin.base_url, timeout=2,
    )
    with get_db(app).session() as session:
        message_id = queue_text(session, agent_id=agent_id, phone=AGENT_PHONE, body="Done!").id
        session.commit()
    assert deliver(get_db(app), message_id, sender, config=app.config) == "sent"
    [accepted] = twilio_standin.messages
    assert _callback(app, accepted.sid, "delivered")
    assert _callback(app, accepted.sid, "sent")
    assert _row(app, message_id).status == "delivered"
