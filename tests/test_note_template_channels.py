"""Note templates through every channel (issue 19): by SMS through the signed webhook and a real
Celery worker, by voice, as a reply to a reminder, in the web app's settings page and lead page,
through `assistant parse`, and in the book's export and import. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import (
    Appointment,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    NoteTemplate,
    User,
)
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from tests.support.web import post_form, sign_in
from webapp.database import get_db
from webapp.execution.plans import run_plan_now
from webapp.execution.reminder_dispatch import ReminderRules, dispatch_due_reminders

LV = "left a voicemail, will try again tomorrow"


def _templates(app: Flask, agent_id: int | None = None) -> dict[str, str]:
    with get_db(app).session() as session:
        query = select(NoteTemplate.name, NoteTemplate.text)
        if agent_id is not None:
            query = query.where(NoteTemplate.agent_id == agent_id)
        return dict(session.execute(query.order_by(NoteTemplate.name)).all())


def _notes(app: Flask) -> list[tuple[str, str, str]]:
    with get_db(app).session() as session:
        return [tuple(row) for row in session.execute(
            select(Lead.name, ClientInteraction.type, ClientInteraction.note)
            .join(Lead, Lead.id == ClientInteraction.lead_id).order_by(ClientInteraction.id))]


def _executed(app: Flask, count: int) -> bool:
    with get_db(app).session() as session:
        states = list(session.scalars(select(ExecutedPlan.state)))
    return len(states) == count and set(states) == {"executed"}


def _plans(app: Flask) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(ExecutedPlan)) or 0


def _save(app: Flask, agent_id: int, name: str, text: str) -> None:
    outcome = run_plan_now(get_db(app), agent_id, [
        {"type": "save_template", "template": name, "text": text, "old_text": None}], "web")
    assert outcome.state == "executed", outcome.error


# ---- by SMS --------------------------------------------------------------------------------------


def test_by_sms_a_template_is_saved_used_listed_deleted_and_undone(app, agent, phone,
                                                                    celery_worker) -> None:
    offer = phone.text("save template lv: left a voicemail, will try again tomorrow")
    assert offer == f'Save template "lv": {LV}\nReply YES to confirm or NO to cancel.'
    assert _templates(app) == {}  # nothing before YES
    phone.text("YES")
    wait_for(lambda: _executed(app, 1))
    assert _templates(app) == {"lv": LV}

    used = phone.text("Called Dana, lv")
    assert used.startswith(f"Log call with Dana Cole: {LV}.")
    phone.text("YES")
    wait_for(lambda: _executed(app, 2))
    assert _notes(app) == [("Dana Cole", "call", LV)]

    listing = phone.text("templates")
    assert f"lv: {LV}" in listing

    assert phone.text("delete template lv").startswith('Delete template "lv"')
    phone.text("YES")
    wait_for(lambda: _executed(app, 3))
    assert _templates(app) == {}
    assert phone.text("undo") == ('Undo your last change: bring back the template "lv". '
                                  "Reply YES to confirm or NO to cancel.")
    phone.text("YES")
    wait_for(lambda: _executed(app, 4))
    assert _templates(app) == {"lv": LV}


def test_by_sms_a_name_that_shadows_a_lead_or_a_command_changes_nothing(app, phone) -> None:
    reply = phone.text("save template dana: called back")
    assert "Dana Cole" in reply and "Pick another name" in reply
    assert "command" in phone.text("save template undo: x")
    assert phone.text("YES") == "Nothing is waiting for confirmation."
    assert _templates(app) == {} and _plans(app) == 0


def test_a_template_changed_meanwhile_fails_the_plan_and_keeps_the_newer_text(app, agent,
                                                                             phone) -> None:
    _save(app, agent.id, "lv", LV)
    phone.text("update template lv: left a message")
    _save_over = run_plan_now(get_db(app), agent.id, [  # the web app, meanwhile
        {"type": "save_template", "template": "lv", "text": "voicemail", "old_text": LV}], "web")
    assert _save_over.state == "executed"
    phone.text("YES")
    from webapp.execution.plans import run_confirmed_plan

    with get_db(app).session() as session:
        plan_id = session.scalar(select(ExecutedPlan.plan_id)
                                 .where(ExecutedPlan.state == "confirmed"))
    outcome = run_confirmed_plan(get_db(app), plan_id)
    assert outcome.state == "failed" and "changed meanwhile" in outcome.error
    assert _templates(app) == {"lv": "voicemail"}


def test_a_lead_added_after_a_template_with_its_name_is_refused_by_the_handler(app,
                                                                              agent) -> None:
    with get_db(app).session() as session:
        session.add(Lead(agent_id=agent.id, name="Lv Nguyen", status="new"))
        session.commit()
    outcome = run_plan_now(get_db(app), agent.id, [
        {"type": "save_template", "template": "lv", "text": LV, "old_text": None}], "web")
    assert outcome.state == "failed" and "name of one of your leads" in outcome.error
    assert _templates(app) == {}


def test_templates_are_the_agents_own(app, agent, phone) -> None:
    with get_db(app).session() as session:
        other = User(name="Other Agent", phone="+13125550999", timezone="America/Chicago")
        session.add(other)
        session.commit()
        other_id = other.id
    _save(app, other_id, "lv", "someone else's words")
    assert "no note templates yet" in phone.text("templates")
    assert phone.text("Called Dana, lv").startswith("Log call with Dana Cole: lv.")


def test_done_with_a_template_logs_it_written_out_on_the_reminders_lead(app, agent,
                                                                         phone) -> None:
    _save(app, agent.id, "lv", LV)
    with get_db(app).session() as session:
        dana = session.scalar(select(Lead.id).where(Lead.name == "Dana Cole"))
        session.add(Appointment(lead_id=dana, agent_id=agent.id, title="call back",
                                due_at=datetime.now(UTC) - timedelta(minutes=1)))
        session.commit()
    dispatch_due_reminders(get_db(app), datetime.now(UTC),
                           ReminderRules(quiet_start=time(0, 0), quiet_end=time(0, 0)))
    phone.text("done, lv")
    assert _notes(app) == [("Dana Cole", "note", LV)]


# ---- by voice --------------------------------------------------------------------------------


def test_by_voice_a_template_is_saved_and_used_spelled_out(app, agent, celery_worker) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("save template L V colon left a voicemail, will try again tomorrow"))
    assert heard.startswith(f"I'll save the note template lv to say: {LV}.")
    assert "Say yes to confirm" in heard
    done = said(call.press("1"))
    assert "Saved the note template lv." in done
    assert _templates(app) == {"lv": LV}
    heard = said(call.say("called dana cole l v"))
    assert f"log a call with Dana Cole: {LV}." in heard
    said(call.say("yes"))
    wait_for(lambda: _executed(app, 2))
    assert _notes(app) == [("Dana Cole", "call", LV)]
    assert "I've texted you the rest" not in said(call.say("templates"))


def test_by_voice_a_refused_name_says_why(app, agent) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("save template dana colon called back"))
    assert "Dana Cole" in heard and "another name" in heard
    assert _plans(app) == 0


# ---- the web app ---------------------------------------------------------------------------------


@pytest.fixture
def client(app: Flask, agent):
    return sign_in(app, agent.id)


def test_the_templates_page_adds_edits_and_deletes_through_plans(app, agent, client) -> None:
    page = client.get("/app/templates")
    assert page.status_code == 200 and "No templates yet" in page.get_data(as_text=True)
    assert "script-src" not in page.headers["Content-Security-Policy"]
    added = post_form(client, "/app/templates", "/app/templates", {"name": "LV", "text": LV})
    assert added.status_code == 303 and added.headers["Location"].endswith("done=saved")
    assert _templates(app) == {"lv": LV}
    edited = post_form(client, "/app/templates", "/app/templates",
                       {"name": "lv", "shown_text": LV, "text": "left a message"})
    assert edited.status_code == 303 and _templates(app) == {"lv": "left a message"}
    with get_db(app).session() as session:
        channels = set(session.scalars(select(ExecutedPlan.channel)))
    assert channels == {"web"}
    deleted = post_form(client, "/app/templates", "/app/templates/lv/delete", {})
    assert deleted.status_code == 303 and _templates(app) == {}


def test_the_templates_page_says_why_and_keeps_what_was_typed(app, agent, client) -> None:
    refused = post_form(client, "/app/templates", "/app/templates",
                        {"name": "yes", "text": "sounds good"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "command" in body and "sounds good" in body
    lead_name = post_form(client, "/app/templates", "/app/templates",
                          {"name": "cole", "text": "x"})
    assert lead_name.status_code == 409 and "name of one of your leads" in lead_name.get_data(
        as_text=True)
    _save(app, agent.id, "lv", LV)
    stale = post_form(client, "/app/templates", "/app/templates",
                      {"name": "lv", "shown_text": "an older text", "text": "new"})
    assert stale.status_code == 409 and "changed meanwhile" in stale.get_data(as_text=True)
    assert _templates(app) == {"lv": LV}


def test_another_agents_template_is_a_404_and_a_forged_post_is_refused(app, agent,
                                                                       client) -> None:
    with get_db(app).session() as session:
        other = User(name="Other Agent", phone="+13125550999", timezone="America/Chicago")
        session.add(other)
        session.commit()
        other_id = other.id
    _save(app, other_id, "zz", "theirs")
    assert post_form(client, "/app/templates", "/app/templates/zz/delete", {}).status_code == 404
    assert client.post("/app/templates", data={"name": "ab", "text": "x"}).status_code == 400
    assert _templates(app, other_id) == {"zz": "theirs"} and _templates(app, agent.id) == {}
    signed_out = app.test_client().get("/app/templates")
    assert signed_out.status_code == 303


def test_a_template_in_the_lead_pages_note_is_written_out(app, agent, client) -> None:
    _save(app, agent.id, "lv", LV)
    with get_db(app).session() as session:
        dana = session.scalar(select(Lead.id).where(Lead.name == "Dana Cole"))
    done = post_form(client, f"/app/leads/{dana}", f"/app/leads/{dana}/interactions",
                     {"interaction_type": "call", "note": "lv"})
    assert done.status_code == 303
    assert _notes(app) == [("Dana Cole", "call", LV)]


# ---- assistant parse ------------------------------------------------------------------------


def test_assistant_parse_expands_a_template_as_it_would_for_that_agent(app, agent, cli) -> None:
    _save(app, agent.id, "lv", LV)
    result = cli.invoke(args=["assistant", "parse", "--agent", agent.phone,
                              "--now", "2026-03-05T15:00", "Called Dana, lv"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "plan" and out["actions"][0]["note"] == LV
    listing = json.loads(cli.invoke(args=["assistant", "parse", "--agent", agent.phone,
                                          "templates"]).output)
    assert listing["kind"] == "query" and f"lv: {LV}" in listing["reply"]
    assert _templates(app) == {"lv": LV} and _plans(app) == 1  # parse wrote nothing


# ---- export and import -----------------------------------------------------------------------

BOOK = {
    "leads": [{"name": "Dana Cole", "phone": "+17735550127", "email": "dana@example.com",
               "status": "negotiating", "created_at": "2026-02-01T09:00:00-06:00",
               "last_contacted": None}],
    "interactions": [], "follow_ups": [], "status_history": [],
}


def _agent_only(app) -> None:
    with get_db(app).session() as session:
        session.add(User(name="Alex Rivera", phone="+13125550100", timezone="America/Chicago"))
        session.commit()


def _import(cli, tmp_path: Path, book: dict):
    path = tmp_path / f"book{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(book), encoding="utf-8")
    return cli.invoke(args=["data", "import", str(path), "--agent", "+13125550100"])


def _export(cli) -> dict:
    result = cli.invoke(args=["data", "export", "--agent", "+13125550100"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_book_without_templates_exports_without_the_section(app, cli, tmp_path) -> None:
    _agent_only(app)
    assert _import(cli, tmp_path, BOOK).exit_code == 0
    exported = _export(cli)
    assert list(exported) == ["leads", "interactions", "follow_ups", "status_history"]


def test_templates_travel_with_the_book_and_export_import_export_is_equal(app, cli,
                                                                          tmp_path) -> None:
    _agent_only(app)
    book = {**BOOK, "templates": [{"name": "nr", "text": "no reply"}, {"name": "LV", "text": LV}]}
    result = _import(cli, tmp_path, book)
    assert result.exit_code == 0, result.output
    assert "templates: 2 added, 0 updated, 0 already there" in result.output
    first = _export(cli)
    assert first["templates"] == [{"name": "lv", "text": LV}, {"name": "nr", "text": "no reply"}]
    again = _import(cli, tmp_path, first)
    assert "templates: 0 added, 0 updated, 2 already there" in again.output
    assert _export(cli) == first
    with get_db(app).session() as session:  # into an empty book: the same export
        for model in (NoteTemplate, ClientInteraction, Lead):
            session.execute(model.__table__.delete())
        session.commit()
    assert _import(cli, tmp_path, first).exit_code == 0
    assert _export(cli) == first


def test_an_imported_template_takes_the_files_text(app, cli, tmp_path) -> None:
    _agent_only(app)
    _import(cli, tmp_path, {**BOOK, "templates": [{"name": "lv", "text": "old"}]})
    result = _import(cli, tmp_path, {**BOOK, "templates": [{"name": "lv", "text": LV}]})
    assert "templates: 0 added, 1 updated" in result.output
    assert _templates(app) == {"lv": LV}


@pytest.mark.parametrize(("templates", "error"), [
    ([{"name": "dana", "text": "x"}], 'templates[0].name: "dana" is in the name of one of the '
                                      "leads"),
    ([{"name": "yes", "text": "x"}], "templates[0].name: \"yes\" is a word I read as a command"),
    ([{"name": "lv", "text": ""}], "templates[0].text: is required"),
    ([{"name": "lv", "text": "a"}, {"name": "LV", "text": "b"}], 'templates[1].name: "lv" is in '
                                                                  "the file twice"),
    ({"lv": "x"}, "templates: must be a list"),
])
def test_a_bad_template_is_reported_with_its_place_and_nothing_is_imported(
        app, cli, tmp_path, templates, error) -> None:
    _agent_only(app)
    result = _import(cli, tmp_path, {**BOOK, "templates": templates})
    assert result.exit_code != 0 and error in result.output, result.output
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(Lead)) == 0
    assert _templates(app) == {}
