"""New-lead alerts ("speed to lead", issue 19): a lead from the API, the web, the command line or
an import is texted to its agent once — even with two dispatchers at once or a worker killed
mid-send — held through quiet hours unless the agent wants them at night, and an import of
several leads is one summary text. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, update

from db.models import ClientInteraction, ExecutedPlan, Lead, LeadAlert, Message, User
from tests.support.databases import rows
from tests.support.waiting import wait_for
from webapp.crm import lead_alerts
from webapp.database import get_db
from webapp.execution import lead_alert_dispatch
from webapp.execution.lead_alert_dispatch import BATCH_SETTLE, dispatch_lead_alerts
from webapp.execution.plans import run_confirmed_plan, run_plan_now
from webapp.execution.reminder_dispatch import ReminderRules
from webapp.understanding.replies import sms_segments
from workers.tasks import sweep_now

CHICAGO = ZoneInfo("America/Chicago")
RULES = ReminderRules()
HINT = "Reply 'called, <how it went>' or 'remind me <when>'."


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def _daytime_after(moment: datetime) -> datetime:
    """Noon in Chicago after `moment`: outside quiet hours, and later than anything written."""
    local = moment.astimezone(CHICAGO)
    day = local.date() + timedelta(days=1 if local.hour >= 12 else 0)
    return datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO)


def _dispatch(app: Flask, now: datetime | None = None, **kwargs) -> list[int]:
    return dispatch_lead_alerts(get_db(app), now or _daytime_after(datetime.now(UTC)), RULES,
                                **kwargs)


def _texts(app: Flask) -> list[Message]:
    return [m for m in rows(app, Message) if m.direction == "outbound"]


def _new_lead(app: Flask, agent, channel: str, name: str = "Nina Park",
              phone: str | None = "+13125550142", now: datetime | None = None) -> int:
    """Add a lead through plan execution, as the web, the API or the CLI would."""
    action = {"type": "create_lead", "name": name, "phone": phone}
    outcome = run_plan_now(get_db(app), agent.id, [action], channel, now=now)
    assert outcome.state == "executed", outcome.error
    return outcome.effects[0]["lead_id"]


def _set_agent(app: Flask, agent, **values) -> None:
    with get_db(app).session() as session:
        session.execute(update(User).where(User.id == agent.id).values(**values))
        session.commit()


def _csv(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "leads.csv"
    path.write_text("name,phone,email,status\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def handed_off(app: Flask):
    """What `webapp.crm.lead_alerts` hands to the task queue after a commit, in order."""
    calls: list[tuple[list[int], list[str]]] = []
    lead_alerts.alert_with(lambda agent_ids, batches: calls.append((agent_ids, batches)))
    yield calls
    lead_alerts.alert_with(None)


# --- which new leads are alerted -------------------------------------------------------------


def test_a_lead_created_by_the_api_is_texted_once_with_its_phone_source_and_note(
        app, api, agent) -> None:
    response = api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142",
                                   "note": "Wants a 3-bed near Wicker Park"})
    assert response.status_code == 201, response.get_json()
    [alert] = rows(app, LeadAlert)
    assert (alert.lead_id, alert.agent_id, alert.batch, alert.message_id) == (
        response.get_json()["id"], agent.id, None, None)

    [message_id] = _dispatch(app)

    [text] = _texts(app)
    assert text.id == message_id and text.phone == agent.phone and text.status == "queued"
    assert text.body == ("New lead: Nina Park (+1 312-555-0142), from the API. Note: Wants a "
                         f"3-bed near Wicker Park. {HINT}")
    [alert] = rows(app, LeadAlert)
    assert alert.message_id == message_id and alert.sent_at is not None
    assert _dispatch(app) == [] and len(_texts(app)) == 1
    [note] = rows(app, ClientInteraction)  # the note is the lead's own first note
    assert (note.type, note.note, note.channel) == ("note", "Wants a 3-bed near Wicker Park",
                                                    "api")


@pytest.mark.parametrize(("channel", "words"), [
    ("web", "from the web app"), ("api", "from the API"), ("cli", "from the command line"),
])
def test_leads_added_on_the_web_by_the_api_or_the_command_line_are_alerted(
        app, agent, channel, words) -> None:
    _new_lead(app, agent, channel)
    _dispatch(app)
    [text] = _texts(app)
    assert text.body == f"New lead: Nina Park (+1 312-555-0142), {words}. {HINT}"


@pytest.mark.parametrize("channel", ["sms", "voice"])
def test_a_lead_the_agent_added_by_text_or_call_is_not_alerted(app, agent, channel) -> None:
    _new_lead(app, agent, channel)
    assert rows(app, LeadAlert) == []
    assert _dispatch(app) == [] and _texts(app) == []


def test_a_lead_without_a_phone_is_alerted_with_its_email(app, agent) -> None:
    action = {"type": "create_lead", "name": "Nina Park", "email": "nina@example.com"}
    run_plan_now(get_db(app), agent.id, [action], "api")
    _dispatch(app)
    assert _texts(app)[0].body == f"New lead: Nina Park (nina@example.com), from the API. {HINT}"


def test_a_long_note_is_cut_so_the_alert_stays_within_two_segments(app, api, agent) -> None:
    note = ("Saw the listing on Zillow and wants to see it this weekend, pre-approved for "
            "650k, selling their condo in Lincoln Park first, two kids, needs a yard and a "
            "garage, prefers mornings, call after 9. " * 2)
    api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142", "note": note})
    _dispatch(app)
    body = _texts(app)[0].body
    assert sms_segments(body) == 2
    assert "Note: Saw the listing on Zillow" in body and "... " + HINT in body


def test_typographic_quotes_in_a_note_do_not_halve_the_room(app, api, agent) -> None:
    api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142",
                        "note": "She’s “pre-approved”"})
    _dispatch(app)
    body = _texts(app)[0].body
    assert "Note: She's \"pre-approved\"." in body and sms_segments(body) == 1


# --- imports: one alert, or one summary --------------------------------------------------------


def test_a_csv_import_of_one_lead_is_one_alert_and_of_several_one_summary(
        app, cli, agent, tmp_path) -> None:
    one = _csv(tmp_path, ["Jane Roe,(773) 555-0199,,"])
    assert cli.invoke(args=["leads", "import", one, "--agent", agent.phone]).exit_code == 0
    _dispatch(app)
    assert [t.body for t in _texts(app)] == [
        f"New lead: Jane Roe (+1 773-555-0199), from an import. {HINT}"]

    several = _csv(tmp_path, ["Ana Diaz,773-555-0101,,", "Ben Ode,773-555-0102,,",
                              "Cy Park,773-555-0103,,qualified"])
    assert cli.invoke(args=["leads", "import", several, "--agent", agent.phone]).exit_code == 0
    _dispatch(app)
    assert _texts(app)[1].body == ("3 new leads from an import: Ana Diaz, Ben Ode, Cy Park. "
                                   "Text LOGIN to see them in the web app.")
    batch = [a for a in rows(app, LeadAlert) if a.message_id == _texts(app)[1].id]
    assert len(batch) == 3 and len({a.batch for a in batch}) == 1


def test_a_book_import_of_many_leads_is_one_summary_of_at_most_two_segments(
        app, cli, agent, tmp_path) -> None:
    book = {"leads": [{"name": f"Lead Number{n:02d}", "phone": f"+1773555{n:04d}"}
                      for n in range(30)]}
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book), encoding="utf-8")
    assert cli.invoke(args=["data", "import", str(path), "--agent", agent.phone]).exit_code == 0

    assert len(_dispatch(app)) == 1

    [text] = _texts(app)
    assert text.body.startswith("30 new leads from an import: Lead Number00, Lead Number01, ")
    assert text.body.endswith(" more. Text 'who is new' to list them.")
    assert sms_segments(text.body) <= 2
    assert {a.message_id for a in rows(app, LeadAlert)} == {text.id}


def test_a_book_import_of_one_lead_carries_its_latest_note(app, cli, agent, tmp_path) -> None:
    book = {"leads": [{"name": "Nina Park", "phone": "+13125550142"}],
            "interactions": [
                {"lead": "Nina Park", "type": "call", "note": "first call",
                 "at": "2026-03-01T09:00:00-06:00"},
                {"lead": "Nina Park", "type": "email", "note": "asked for comps",
                 "at": "2026-03-02T09:00:00-06:00"}]}
    path = tmp_path / "book.json"
    path.write_text(json.dumps(book), encoding="utf-8")
    assert cli.invoke(args=["data", "import", str(path), "--agent", agent.phone]).exit_code == 0
    _dispatch(app)
    assert _texts(app)[0].body == ("New lead: Nina Park (+1 312-555-0142), from an import. "
                                   f"Note: asked for comps. {HINT}")


def test_an_import_that_adds_nothing_writes_no_alert(app, cli, agent, tmp_path) -> None:
    known = _csv(tmp_path, ["John Doe,312-555-0123,,"])  # one of the agent's leads already
    assert cli.invoke(args=["leads", "import", known, "--agent", agent.phone]).exit_code == 0
    assert rows(app, LeadAlert) == []


def test_a_batch_upsert_is_one_summary_handed_off_once_when_the_batch_is_done(
        app, api, agent, handed_off) -> None:
    _set_agent(app, agent, alerts_at_night=True)  # sent at the hour the test runs at
    response = api.post("/leads/batch/upsert", {"leads": [
        {"name": "Ana Diaz", "phone": "773-555-0101"},
        {"name": "Ben Ode", "phone": "773-555-0102"},
        {"name": "John Doe", "phone": "312-555-0123", "status": "qualified"},  # an update
        {"name": "Cy Park", "phone": "773-555-0103"},
    ]})
    assert [item["result"] for item in response.get_json()["data"]] == [
        "created", "created", "updated", "created"]
    alerts = rows(app, LeadAlert)
    assert len(alerts) == 3 and len({a.batch for a in alerts}) == 1
    batch = alerts[0].batch
    assert handed_off == [([agent.id], [batch])]  # once, after the last lead, not per lead

    newest = max(a.created_at for a in alerts)
    # beat, meanwhile, leaves a batch nobody said was done alone until it has been still
    assert _dispatch(app, now=newest + BATCH_SETTLE / 2) == []
    assert len(_dispatch(app, now=newest + BATCH_SETTLE / 2, complete_batches=[batch])) == 1
    assert [t.body for t in _texts(app)] == [
        "3 new leads from the API: Ana Diaz, Ben Ode, Cy Park. Text 'who is new' to list them."]


def test_beat_sends_a_batch_once_nothing_joined_it_for_a_while(app, api, agent) -> None:
    _set_agent(app, agent, alerts_at_night=True)  # sent at the hour the test runs at
    api.post("/leads/batch/upsert", {"leads": [{"name": "Ana Diaz", "phone": "773-555-0101"},
                                               {"name": "Ben Ode", "phone": "773-555-0102"}]})
    newest = max(a.created_at for a in rows(app, LeadAlert))
    assert len(_dispatch(app, now=newest + BATCH_SETTLE + timedelta(seconds=1))) == 1


def test_the_hand_off_follows_the_commit_only(app, agent, cli, tmp_path, handed_off) -> None:
    _new_lead(app, agent, "api")
    assert handed_off == [([agent.id], [])]
    refused = {"type": "create_lead", "name": "Nina Park", "phone": "+13125550142"}
    assert run_plan_now(get_db(app), agent.id, [refused], "api").state == "failed"  # same phone
    assert len(handed_off) == 1  # rolled back: nothing to hand off
    path = _csv(tmp_path, ["Ana Diaz,773-555-0101,,", "Ben Ode,773-555-0102,,"])
    cli.invoke(args=["leads", "import", path, "--agent", agent.phone])
    assert handed_off[1] == ([agent.id], [rows(app, LeadAlert)[-1].batch])


# --- exactly once -----------------------------------------------------------------------------


def test_racing_dispatchers_text_each_new_lead_once(app, agent, cli, tmp_path) -> None:
    with get_db(app).session() as session:
        others = [User(name=f"Agent {n}", phone=f"+1312555{n:04d}", timezone="America/Chicago")
                  for n in range(1, 7)]
        session.add_all(others)
        session.commit()
    for n, other in enumerate(others):
        _new_lead(app, other, "api", name=f"Lead {n}", phone=f"+1773555{n:04d}")
    path = _csv(tmp_path, [f"Imported {n},+1872555{n:04d},," for n in range(5)])
    assert cli.invoke(args=["leads", "import", path, "--agent", agent.phone]).exit_code == 0
    now = _daytime_after(datetime.now(UTC))
    results: list[list[int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            results.append(dispatch_lead_alerts(get_db(app), now, RULES))
        except BaseException as exc:  # a lock error would be a failure of the design
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(len(r) for r in results) == 7  # six agents' alerts and one summary
    texts = _texts(app)
    assert len(texts) == 7 and len({t.agent_id for t in texts}) == 7
    alerts = rows(app, LeadAlert)
    assert all(a.sent_at is not None and a.message_id is not None for a in alerts)
    assert _dispatch(app, now=now + timedelta(minutes=1)) == []


def test_a_worker_killed_before_its_commit_leaves_the_alert_waiting(
        app, agent, monkeypatch) -> None:
    _new_lead(app, agent, "api")

    def killed(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(lead_alert_dispatch, "queue_text", killed)
    with pytest.raises(SystemExit):
        _dispatch(app)
    [alert] = rows(app, LeadAlert)
    assert (alert.sent_at, alert.message_id) == (None, None) and _texts(app) == []
    monkeypatch.undo()
    assert len(_dispatch(app)) == 1 and len(_texts(app)) == 1


@pytest.fixture
def on_standin(app: Flask, twilio_standin) -> Flask:
    app.config.update(SMS_SENDER="twilio", TWILIO_API_BASE_URL=twilio_standin.base_url,
                      TWILIO_TIMEOUT=2)
    return app


def test_a_worker_killed_after_its_commit_leaves_a_text_the_sweep_sends_once(
        on_standin, agent, twilio_standin) -> None:
    from webapp.outbound.delivery import current_sender, deliver

    _new_lead(on_standin, agent, "api")
    [message_id] = _dispatch(on_standin)  # claimed and written; the worker dies before enqueueing
    assert _dispatch(on_standin) == []  # the next beat does not write it again
    with on_standin.app_context():
        assert sweep_now(timedelta(0), 5)["messages_requeued"] == 1
    sender = current_sender(on_standin.config)
    for _ in range(2):  # the re-queued task, and a duplicate of it
        deliver(get_db(on_standin), message_id, sender, config=on_standin.config)
    assert [m["Body"] for m in twilio_standin.messages] == [_texts(on_standin)[0].body]
    assert _texts(on_standin)[0].status == "sent"


# --- held: quiet hours, opted out ----------------------------------------------------------------


def test_quiet_hours_hold_an_alert_until_morning(app, agent) -> None:
    _new_lead(app, agent, "api", now=_local(2026, 3, 6, 22, 30))
    assert _dispatch(app, now=_local(2026, 3, 6, 22, 31)) == []
    assert _dispatch(app, now=_local(2026, 3, 7, 7, 59)) == []
    assert len(_dispatch(app, now=_local(2026, 3, 7, 8, 0))) == 1
    assert _texts(app)[0].body.startswith("New lead: Nina Park")


def test_an_agent_with_alerts_at_night_on_gets_them_at_once(app, agent) -> None:
    _set_agent(app, agent, alerts_at_night=True)
    _new_lead(app, agent, "api", now=_local(2026, 3, 6, 23, 15))
    assert len(_dispatch(app, now=_local(2026, 3, 6, 23, 15, 5))) == 1


def test_quiet_hours_are_the_agents_own(app, agent) -> None:
    _set_agent(app, agent, timezone="Asia/Tokyo")  # 22:30 in Chicago is 13:30 in Tokyo
    _new_lead(app, agent, "api", now=_local(2026, 3, 6, 22, 30))
    assert len(_dispatch(app, now=_local(2026, 3, 6, 22, 31))) == 1


def test_leads_that_waited_the_night_together_arrive_as_one_summary(app, agent) -> None:
    _new_lead(app, agent, "api", now=_local(2026, 3, 6, 22, 30))
    _new_lead(app, agent, "web", name="Sam Lee", phone="+13125550143",
              now=_local(2026, 3, 7, 2, 0))
    assert len(_dispatch(app, now=_local(2026, 3, 7, 8, 0, 30))) == 1
    assert [t.body for t in _texts(app)] == [
        "2 new leads: Nina Park, Sam Lee. Text 'who is new' to list them."]


def test_an_opted_out_agent_gets_no_alert_until_start(app, agent) -> None:
    _set_agent(app, agent, opted_out=True)
    _new_lead(app, agent, "api")
    assert _dispatch(app) == [] and _texts(app) == []
    _set_agent(app, agent, opted_out=False)
    assert len(_dispatch(app)) == 1
    assert _texts(app)[0].status == "queued"


# --- undo -----------------------------------------------------------------------------------


def test_undoing_an_api_created_lead_by_text_removes_it_and_its_waiting_alert(
        app, api, agent, phone) -> None:
    api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142"})
    assert "remove the new lead Nina Park" in phone.text("undo")
    phone.text("YES")
    [undo] = [p for p in rows(app, ExecutedPlan) if p.undoes_plan_id]
    assert run_confirmed_plan(get_db(app), undo.plan_id).state == "executed"
    with get_db(app).session() as session:
        assert session.scalar(select(Lead).where(Lead.name == "Nina Park")) is None
    assert rows(app, LeadAlert) == []
    assert _dispatch(app) == []
    assert not any(t.body.startswith("New lead") for t in _texts(app))


def test_undoing_a_lead_already_alerted_keeps_the_text_and_drops_the_alert(
        app, api, agent, phone) -> None:
    api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142"})
    [message_id] = _dispatch(app)
    phone.text("undo")
    phone.text("YES")
    [undo] = [p for p in rows(app, ExecutedPlan) if p.undoes_plan_id]
    run_confirmed_plan(get_db(app), undo.plan_id)
    assert rows(app, LeadAlert) == []
    with get_db(app).session() as session:
        assert session.get(Message, message_id) is not None


# --- through the real broker and a worker -------------------------------------------------------


@pytest.mark.integration
def test_an_api_lead_reaches_the_agents_phone_through_a_worker_at_once(
        on_standin, api, agent, celery_worker, twilio_standin) -> None:
    _set_agent(on_standin, agent, alerts_at_night=True)  # whatever the hour the test runs at
    api.post("/leads", {"name": "Nina Park", "phone": "312-555-0142"})
    [sent] = wait_for(lambda: twilio_standin.messages)
    assert sent["To"] == agent.phone
    assert sent["Body"] == f"New lead: Nina Park (+1 312-555-0142), from the API. {HINT}"
    with on_standin.app_context():
        from workers.tasks import dispatch_lead_alerts as beat_task

        beat_task.delay()  # beat, a moment later: nothing left to send
    time.sleep(1)
    assert len(twilio_standin.messages) == 1
