"""POST /sms: signatures, senders, duplicates, carrier keywords, bad input, the conversation.

These run the real Flask app against the real database and Redis; no worker is needed because
nothing here waits for a plan to run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from db.models import ExecutedPlan, Message, User
from tests.support.sms import SmsPhone, sign
from webapp.database import get_db


def _rows(app, model) -> list:
    with get_db(app).session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def _count(app, model, *where) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_unsigned_request_is_refused_and_nothing_is_recorded(app, agent) -> None:
    response = app.test_client().post("/sms", data={"From": agent.phone, "Body": "HELP"})
    assert response.status_code == 403
    assert _count(app, Message) == 0


def test_tampered_request_is_refused(app, agent) -> None:
    params = {"MessageSid": "SM1", "From": agent.phone, "Body": "HELP"}
    signature = sign(app, "/sms", params)
    tampered = {**params, "Body": "Update John Doe to closed won"}
    response = app.test_client().post(
        "/sms", data=tampered, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert _count(app, Message) == 0


def test_signature_for_another_url_is_refused(app, agent) -> None:
    params = {"MessageSid": "SM1", "From": agent.phone, "Body": "HELP"}
    signature = sign(app, "/voice", params)
    response = app.test_client().post("/sms", data=params,
                                      headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


@pytest.mark.parametrize("settings", [{"PUBLIC_BASE_URL": "", "TRUST_PROXY_HEADERS": True}])
def test_behind_a_trusted_proxy_the_forwarded_url_is_what_is_checked(app, agent, settings):
    params = {"MessageSid": "SMproxy", "From": agent.phone, "Body": "HELP"}
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "https://crm.example.com/sms", params
    )
    response = app.test_client().post(
        "/sms", data=params,
        headers={"X-Twilio-Signature": signature, "X-Forwarded-Proto": "https",
                 "X-Forwarded-Host": "crm.example.com"},
    )
    assert response.status_code == 200


def test_unknown_number_gets_one_polite_reply_and_learns_nothing(app, agent) -> None:
    stranger = SmsPhone(app, "+14155550199")
    reply = stranger.text("What's John Doe's status?")
    assert reply is not None and "registered" in reply
    assert "John" not in reply
    assert _count(app, ExecutedPlan) == 0


def test_one_unknown_number_texting_50_times_gets_one_reply_and_leaves_no_body(
        app, agent) -> None:
    """The review: 50 texts from one unregistered number got 50 replies (each a billed SMS)
    and 100 rows."""
    stranger = SmsPhone(app, "+14155550199")
    replies = [stranger.text(f"hello there, this is message number {n}") for n in range(50)]

    assert sum(reply is not None for reply in replies) == 1
    assert replies[0] is not None and "registered" in replies[0]
    stored = _rows(app, Message)
    assert len(stored) <= 2  # who wrote (no body) and the one reply
    assert not any("message number" in m.body for m in stored)
    assert _count(app, Message, Message.direction == "inbound", Message.body != "") == 0


@pytest.mark.parametrize("settings", [{"STRANGER_REPLIES_PER_MINUTE": 10}])
def test_unknown_numbers_together_get_at_most_the_budget_of_replies(app, agent) -> None:
    replies = [SmsPhone(app, f"+1415555{n:04d}").text("who is this?") for n in range(30)]

    assert sum(reply is not None for reply in replies) == 10
    assert _count(app, Message) <= 20
    # An agent is not held back by strangers' flood.
    assert SmsPhone(app, agent.phone).text("What's John Doe's status?")


def test_a_stranger_is_answered_again_the_next_day(app, agent) -> None:
    stranger = SmsPhone(app, "+14155550199")
    assert stranger.text("hi")
    assert stranger.text("hi again") is None
    redis = app.extensions["redis"]
    for key in redis.scan_iter("fl:stranger:*"):
        redis.delete(key)  # what a day's expiry does
    assert stranger.text("hi, it's tomorrow")


def test_with_redis_down_a_stranger_gets_no_reply(app, agent) -> None:
    from redis import Redis

    from webapp.channels.sms.rate_limit import StrangerLimiter

    dead = Redis(port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    assert StrangerLimiter(dead, 10).may_reply("+14155550199") is False


@pytest.mark.parametrize("sid", ["SM" + "a" * 100, "SM12:34", "SM 1"])
def test_a_message_sid_that_is_not_one_is_refused_and_nothing_stored(app, phone,
                                                                     sid: str) -> None:
    response = phone.post("Update Sarah Smith's status to qualified", sid=sid)
    assert response.status_code == 400
    assert _count(app, Message) == 0


def test_a_repeated_message_sid_has_no_second_effect_and_no_reply(app, phone) -> None:
    first = phone.post("Update Sarah Smith's status to qualified", sid="SMdup1")
    assert b"Reply YES" in first.data
    again = phone.post("Update Sarah Smith's status to qualified", sid="SMdup1")
    assert again.status_code == 200
    from tests.support.sms import twiml_message

    assert twiml_message(again.data) is None
    assert _count(app, Message, Message.direction == "inbound") == 1


def test_a_plan_is_offered_and_waits_for_yes(app, phone) -> None:
    reply = phone.text("Update Sarah Smith's status to qualified")
    assert "Sarah Smith" in reply
    assert reply.endswith("Reply YES to confirm or NO to cancel.")
    assert _count(app, ExecutedPlan) == 0


def test_a_new_plan_replaces_the_pending_one_and_says_so(app, phone) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    reply = phone.text("Update Dana Cole's status to closed won")
    assert "replaces" in reply


def test_no_cancels_the_pending_plan(app, phone) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    assert "Cancelled" in phone.text("NO")
    assert phone.text("YES") == "Nothing is waiting for confirmation."


def test_yes_with_nothing_pending_says_so(app, phone) -> None:
    assert phone.text("yes") == "Nothing is waiting for confirmation."


def test_yes_records_the_confirmed_plan_before_anything_runs(app, phone) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    reply = phone.text("YES")
    assert "Confirmed" in reply
    with get_db(app).session() as session:
        row = session.scalar(select(ExecutedPlan))
    assert row.state == "confirmed"
    assert row.channel == "sms"
    assert row.plan["actions"][0]["status"] == "qualified"


def test_clarify_then_a_number_continues_the_same_request(app, phone) -> None:
    question = phone.text("Update John to negotiating")  # John Smith is qualified: a no-op
    assert "1" in question and "John Doe" in question and "John Smith" in question
    reply = phone.text("2")
    assert "Reply YES" in reply
    assert ("John Smith" in reply) != ("John Doe" in reply)


def test_a_text_that_is_never_read_leaves_the_clarify_question_waiting(app, phone) -> None:
    # The webhook's first Redis round trip only looks for a waiting question; taking it is
    # the conversation's, so an unreadable text in between does not lose it.
    question = phone.text("Update John to negotiating")  # John Smith is qualified: a no-op
    assert "John Doe" in question and "John Smith" in question
    assert "emoji" in phone.text("👍👍")
    reply = phone.text("2")
    assert "Reply YES" in reply
    assert ("John Smith" in reply) != ("John Doe" in reply)


def test_a_clarify_answer_continues_once(app, phone) -> None:
    phone.text("Update John to negotiating")  # John Smith is qualified: a no-op
    assert "Reply YES" in phone.text("2")
    assert "Reply YES" not in (phone.text("1") or "")  # the question was taken by the first


def test_query_is_answered_at_once_and_changes_nothing(app, phone) -> None:
    reply = phone.text("What's Dana Cole's status?")
    assert "negotiating" in reply
    assert _count(app, ExecutedPlan) == 0


def test_help_lists_examples(app, phone) -> None:
    reply = phone.text("HELP")
    assert "YES" in reply or "status" in reply.lower()


def test_stop_opts_out_and_start_opts_back_in(app, agent, phone) -> None:
    assert "unsubscribed" in phone.text("STOP")
    with get_db(app).session() as session:
        assert session.get(User, agent.id).opted_out is True
    assert "START" in phone.text("Update Sarah Smith to qualified")
    assert "Welcome back" in phone.text("start")
    with get_db(app).session() as session:
        assert session.get(User, agent.id).opted_out is False


def test_stop_is_never_taken_as_cancel(app, phone) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    phone.text("STOP")
    phone.text("START")
    assert "Confirmed" in phone.text("YES")


@pytest.mark.parametrize(
    ("body", "extra", "expected"),
    [
        ("", {}, "didn't get any text"),
        ("   ", {}, "didn't get any text"),
        ("", {"NumMedia": "1"}, "only read text"),
        ("x" * 1601, {}, "too long"),
        ("🙂🏡🔥", {}, "emoji"),
        ("Update Sarah\x00 Smith to won", {}, "can't read"),
    ],
)
def test_bad_input_gets_a_clear_reply_and_changes_nothing(app, phone, body, extra, expected):
    reply = phone.text(body, **extra)
    assert expected in reply
    assert phone.text("YES") == "Nothing is waiting for confirmation."


@pytest.mark.parametrize("settings", [{"RATE_LIMIT_PER_MINUTE": 3}])
def test_a_flood_is_answered_once_then_ignored(app, phone, settings) -> None:
    replies = [phone.text("What's Dana Cole's status?") for _ in range(6)]
    assert all("negotiating" in r for r in replies[:3])
    assert "too fast" in replies[3]
    assert replies[4] is None and replies[5] is None


def test_another_agents_lead_does_not_exist_for_this_agent(app, agent) -> None:
    from db.models import Lead

    with get_db(app).session() as session:
        other = User(name="Other", phone="+13125550111", timezone="America/Chicago")
        session.add(other)
        session.flush()
        session.add(Lead(agent_id=other.id, name="Karen White", status="new"))
        session.commit()
    reply = SmsPhone(app, agent.phone).text("Update Karen White to qualified")
    assert "Reply YES" not in reply
    assert "Karen White" in reply  # "I don't know Karen White", not her data


def test_a_redelivery_with_the_same_idempotency_token_is_ignored(app, phone) -> None:
    from tests.support.sms import twiml_message

    params = {"MessageSid": "SMtok2", "From": phone.phone, "Body": "Called Dana Cole",
              "To": app.config["TWILIO_PHONE_NUMBER"]}
    headers = {"X-Twilio-Signature": sign(app, "/sms", params),
               "I-Twilio-Idempotency-Token": "token-abc"}
    client = app.test_client()
    assert twiml_message(client.post("/sms", data=params, headers=headers).data)
    params["MessageSid"] = "SMtok3"  # a different sid, but the same delivery token
    headers["X-Twilio-Signature"] = sign(app, "/sms", params)
    assert twiml_message(client.post("/sms", data=params, headers=headers).data) is None


def test_status_callbacks_only_move_a_message_forward(app, agent) -> None:
    from webapp.outbound.messages import queue_text

    with get_db(app).session() as session:
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body="hi")
        message.provider_sid = "SMstatus1"
        message.status = "sent"
        session.commit()
    client = app.test_client()

    def callback(status: str) -> int:
        params = {"MessageSid": "SMstatus1", "MessageStatus": status}
        return client.post("/sms/status", data=params,
                           headers={"X-Twilio-Signature": sign(app, "/sms/status", params)}
                           ).status_code

    assert callback("delivered") == 204
    assert callback("sent") == 204  # late and out of order
    assert client.post("/sms/status", data={"MessageSid": "SMstatus1",
                                            "MessageStatus": "failed"}).status_code == 403
    with get_db(app).session() as session:
        assert session.scalar(select(Message.status).where(
            Message.provider_sid == "SMstatus1")) == "delivered"


def test_list_my_leads_counts_them_by_status(app, phone) -> None:
    reply = phone.text("list my leads")
    assert reply == "You have 5 leads: 1 new, 2 contacted, 1 qualified, 1 negotiating."
