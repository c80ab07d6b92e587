"""SMS end to end with real parts: signed webhook → plan in Redis → YES → confirmed row →
a real Celery worker on the real broker → database → result text through the real twilio
client to a loopback stand-in of the Messages API."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from tests.support.databases import rows
from tests.support.sms import SmsPhone
from tests.support.waiting import wait_for
from webapp.database import get_db

pytestmark = pytest.mark.integration

SEED = (
    "Log that my call with John Doe went well, update his status to 'Negotiating', "
    "and remind me to send the contract tomorrow morning"
)


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio"}


def _plan_state(app, plan_id: str | None = None) -> str | None:
    with get_db(app).session() as session:
        query = select(ExecutedPlan.state)
        if plan_id:
            query = query.where(ExecutedPlan.plan_id == plan_id)
        return session.scalar(query.order_by(ExecutedPlan.id.desc()).limit(1))



def test_the_seed_example_goes_from_text_to_rows_in_all_four_tables(
    app, agent, phone, celery_worker, twilio_standin
) -> None:
    offer = phone.text(SEED)
    assert "Reply YES to confirm" in offer
    assert "John Doe" in offer

    assert "Confirmed" in phone.text("YES")
    wait_for(lambda: _plan_state(app) == "executed")
    sent = wait_for(lambda: twilio_standin.messages)

    [interaction] = rows(app, ClientInteraction)
    assert (interaction.type, interaction.note, interaction.channel) == ("call", "went well", "sms")
    [history] = rows(app, LeadHistory)
    assert (history.old_status, history.new_status) == ("contacted", "negotiating")
    [appointment] = rows(app, Appointment)
    assert appointment.title == "send the contract"
    local_due = appointment.due_at.astimezone(ZoneInfo("America/Chicago"))
    local_today = datetime.now(ZoneInfo("America/Chicago")).date()
    assert local_due.date() == local_today + timedelta(days=1)
    assert (local_due.hour, local_due.minute) == (10, 0)
    john = next(lead for lead in rows(app, Lead) if lead.name == "John Doe")
    assert john.status == "negotiating"
    assert john.last_contacted is not None
    plan_ids = {interaction.plan_id, history.plan_id, appointment.plan_id}
    assert len(plan_ids) == 1 and None not in plan_ids

    assert len(sent) == 1
    assert sent[0]["To"] == agent.phone
    assert sent[0]["From"] == app.config["TWILIO_PHONE_NUMBER"]
    assert "Done" in sent[0]["Body"]


def test_status_update_result_text(app, agent, phone, celery_worker, twilio_standin) -> None:
    phone.text("Mark Sarah Smith as qualified")
    phone.text("yes")
    wait_for(lambda: twilio_standin.messages)
    assert twilio_standin.messages[0]["Body"] == (
        "✅ Done! The status for Sarah Smith has been updated from 'contacted' to 'qualified'."
    )


def test_twenty_concurrent_yes_run_the_plan_once_and_reply_once(
    app, agent, phone, celery_worker, twilio_standin
) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    replies: list[str | None] = []
    lock = threading.Lock()

    def say_yes(n: int) -> None:
        reply = SmsPhone(app, agent.phone).text("YES", MessageSid=f"SMyes{n:030d}")
        with lock:
            replies.append(reply)

    threads = [threading.Thread(target=say_yes, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum("Confirmed" in (r or "") for r in replies) == 1
    wait_for(lambda: _plan_state(app) == "executed")
    wait_for(lambda: twilio_standin.messages)
    assert len(rows(app, LeadHistory)) == 1
    assert len(rows(app, ExecutedPlan)) == 1
    import time

    time.sleep(1.0)  # give any stray duplicate the chance to show itself
    assert len(twilio_standin.messages) == 1


def test_a_redelivered_task_has_no_second_effect(app, agent, phone, celery_worker,
                                                 twilio_standin) -> None:
    from workers.tasks import run_plan

    phone.text("Called Dana Cole, no answer")
    phone.text("YES")
    wait_for(lambda: _plan_state(app) == "executed")
    plan_id = rows(app, ExecutedPlan)[0].plan_id
    # What a broker does after a worker was lost mid-task: deliver the same task again.
    run_plan.apply_async(args=[plan_id])
    run_plan.apply_async(args=[plan_id])
    import time

    time.sleep(1.5)
    assert len(rows(app, ClientInteraction)) == 1
    assert len(twilio_standin.messages) == 1


def test_a_failing_action_mid_plan_writes_nothing_and_says_so(
    app, agent, phone, celery_worker, twilio_standin
) -> None:
    phone.text("Update Sarah Smith's status to qualified and called Dana Cole, no answer")
    # Dana is deleted between the offer and the YES: the second action must fail...
    with get_db(app).session() as session:
        dana = session.scalar(select(Lead).where(Lead.name == "Dana Cole"))
        session.delete(dana)
        session.commit()
    phone.text("YES")
    wait_for(lambda: _plan_state(app) == "failed")
    # ...and the first, already applied in the same transaction, must be rolled back.
    assert rows(app, LeadHistory) == []
    sarah = next(lead for lead in rows(app, Lead) if lead.name == "Sarah Smith")
    assert sarah.status == "contacted"
    wait_for(lambda: twilio_standin.messages)
    assert "Nothing was changed" in twilio_standin.messages[0]["Body"]


def test_an_expired_plan_cannot_be_confirmed(app, agent, phone) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    app.extensions["redis"].delete(f"fl:pending:{agent.phone}")  # what the TTL does
    assert phone.text("YES").startswith("Your change for Sarah Smith expired after 15 minutes;")
    assert phone.text("YES") == "Nothing is waiting for confirmation."


@pytest.mark.parametrize("settings", [{"PENDING_PLAN_TTL": 1}])
def test_the_pending_plan_expires_after_its_ttl(app, agent, phone, settings) -> None:
    phone.text("Update Sarah Smith's status to qualified")
    wait_for(lambda: app.extensions["redis"].get(f"fl:pending:{agent.phone}") is None, 5)
    reply = phone.text("YES")
    assert reply.startswith("Your change for Sarah Smith expired") and "nothing was saved" in reply


def test_undo_reverts_the_last_plan_after_its_own_yes(
    app, agent, phone, celery_worker, twilio_standin
) -> None:
    phone.text(SEED)
    phone.text("YES")
    wait_for(lambda: _plan_state(app) == "executed")
    offer = phone.text("undo")
    assert "contacted" in offer and "Reply YES" in offer
    phone.text("YES")
    wait_for(lambda: len(twilio_standin.messages) == 2)
    john = next(lead for lead in rows(app, Lead) if lead.name == "John Doe")
    assert john.status == "contacted"
    assert rows(app, ClientInteraction) == []
    assert [a.state for a in rows(app, Appointment)] == ["cancelled"]
    assert [(h.old_status, h.new_status) for h in rows(app, LeadHistory)] == [
        ("contacted", "negotiating"), ("negotiating", "contacted")
    ]
    assert "Undone" in twilio_standin.messages[1]["Body"]
    assert phone.text("undo") == "There is nothing to undo."


def test_pronouns_follow_the_previous_message(app, agent, phone, celery_worker,
                                              twilio_standin) -> None:
    phone.text("What's Dana Cole's status?")
    reply = phone.text("mark her as closed won")
    assert "Dana Cole" in reply


def test_a_new_lead_from_the_api_is_texted_at_once_and_called_then_logs_on_it(
        app, agent, api, phone, celery_worker, twilio_standin) -> None:
    """Issue 19, speed to lead: the API adds a lead, a worker texts the agent, the agent
    answers "called, went well" and the call is logged on that lead."""
    with get_db(app).session() as session:  # whatever the hour this runs at
        session.get(User, agent.id).alerts_at_night = True
        session.commit()
    assert api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142",
                               "note": "saw the Elm St listing"}).status_code == 201
    [alert] = wait_for(lambda: twilio_standin.messages)
    assert alert["Body"].startswith("New lead: Nina Park (+1 312-555-0142), from the API. "
                                    "Note: saw the Elm St listing. Reply 'called, ")

    assert phone.text("called, went well").startswith("Log call with Nina Park: went well.")
    phone.text("YES")
    wait_for(lambda: len(twilio_standin.messages) == 2)
    assert "Logged call with Nina Park: went well" in twilio_standin.messages[1]["Body"]
    assert [(i.type, i.note) for i in rows(app, ClientInteraction)] == [
        ("note", "saw the Elm St listing"), ("call", "went well")]


@pytest.mark.parametrize("settings", [{"CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}])
def test_yes_while_the_broker_is_down_is_saved_and_recovered_later(
    app, agent, phone, settings
) -> None:
    import time

    phone.text("Update Sarah Smith's status to qualified")
    started = time.monotonic()
    reply = phone.text("YES")
    assert time.monotonic() - started < 10
    assert "saved" in reply
    assert _plan_state(app) == "confirmed"


@pytest.mark.parametrize("settings", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_down_gives_a_quick_try_again_reply(app, agent, settings) -> None:
    import time

    started = time.monotonic()
    reply = SmsPhone(app, agent.phone).text("Update Sarah Smith's status to qualified")
    assert time.monotonic() - started < 10
    assert "try again in a minute" in reply
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(ExecutedPlan)) == 0


def test_opted_out_agent_gets_no_result_text(app, agent, phone, celery_worker,
                                              twilio_standin) -> None:
    phone.text("Mark Sarah Smith as qualified")
    phone.text("YES")
    wait_for(lambda: _plan_state(app) == "executed")
    wait_for(lambda: twilio_standin.messages)
    phone.text("STOP")
    # A plan confirmed before STOP that finishes later must not text an opted-out agent.
    from webapp.outbound.messages import queue_text

    with get_db(app).session() as session:
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body="late news")
        session.commit()
        assert message.status == "suppressed"
    assert len(twilio_standin.messages) == 1
    assert all(m.direction != "outbound" or m.body != "late news" or m.status == "suppressed"
               for m in rows(app, Message))
