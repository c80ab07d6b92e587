"""Email drafts through every channel, without an OpenAI key (issue 19): by SMS through the
signed webhook and a real Celery worker, by voice, the web app's draft page (scoped, no
JavaScript needed, its Copy script under the page's CSP), "log it" by text and on the page,
and `assistant parse`. Nothing is ever sent to a lead. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from flask import Flask
from sqlalchemy import select, update

from db.models import Appointment, ClientInteraction, EmailDraft, Lead, Message, User
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from tests.support.web import csrf_of, post_form, sign_in
from webapp.database import get_db

LINK = re.compile(r"https://fieldline\.test/app/drafts/(\d+)")


@pytest.fixture
def dana(app: Flask, agent) -> int:
    """Dana Cole with an email, a viewing logged an hour ago and a follow-up on Monday."""
    now = datetime.now(UTC)
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.name == "Dana Cole"))
        lead.email = "dana@example.com"
        session.add(ClientInteraction(lead_id=lead.id, agent_id=agent.id, type="viewing",
                                      note="loved the kitchen", channel="sms",
                                      occurred_at=now - timedelta(hours=1)))
        session.add(Appointment(lead_id=lead.id, agent_id=agent.id, title="send comps",
                                due_at=now + timedelta(days=3)))
        session.commit()
        return lead.id


def _drafts(app: Flask) -> list[EmailDraft]:
    with get_db(app).session() as session:
        return list(session.scalars(select(EmailDraft).order_by(EmailDraft.id)))


def _emails_logged(app: Flask) -> list[tuple[str, str, str]]:
    with get_db(app).session() as session:
        return [tuple(r) for r in session.execute(
            select(Lead.name, ClientInteraction.note, ClientInteraction.channel)
            .join(Lead, Lead.id == ClientInteraction.lead_id)
            .where(ClientInteraction.type == "email").order_by(ClientInteraction.id))]


def _sent_to(app: Flask) -> set[str]:
    with get_db(app).session() as session:
        return set(session.scalars(select(Message.phone).where(Message.direction == "outbound")))


# ---- by SMS ------------------------------------------------------------------------------------


def test_by_sms_a_draft_comes_back_as_subject_first_lines_and_link(app, agent, dana,
                                                                   phone) -> None:
    reply = phone.text("Draft an email to Dana Cole about the inspection")
    lines = reply.split("\n")
    assert lines[0] == "Draft email to Dana Cole (dana@example.com):"
    assert lines[1] == "Subject: The inspection"
    assert lines[2].startswith("Thank you for coming to the showing today. I'm writing about "
                               "the inspection.")
    (draft,) = _drafts(app)
    assert f"Full draft, Open in mail and Copy: https://fieldline.test/app/drafts/{draft.id}" in \
        reply
    assert reply.endswith('reply "log it" to log the email.')
    assert (draft.lead_id, draft.about, draft.writer) == (dana, "the inspection", "template")
    assert "Hi Dana," in draft.body and "Alex Rivera" in draft.body
    assert _sent_to(app) <= {agent.phone}  # never the lead


def test_log_it_after_sending_logs_the_email_through_a_plan(app, agent, dana, phone,
                                                            celery_worker) -> None:
    phone.text("write Dana a thank-you note for today's showing")
    offer = phone.text("sent it, log it")
    assert offer == ("Log email with Dana Cole: Thank you for today's showing.\n"
                     "Reply YES to confirm or NO to cancel.")
    assert _emails_logged(app) == []
    phone.text("YES")
    wait_for(lambda: _emails_logged(app))
    assert _emails_logged(app) == [("Dana Cole", "Thank you for today's showing", "sms")]
    assert "already logged" in phone.text("log it")
    with get_db(app).session() as session:
        last = session.scalar(select(Lead.last_contacted).where(Lead.id == dana))
    assert last is not None and datetime.now(UTC) - last < timedelta(minutes=1)


def test_a_command_said_after_the_request_is_named_in_the_reply(app, agent, dana,
                                                                phone) -> None:
    reply = phone.text("Draft an email to Dana Cole about the inspection, mark her qualified")
    assert reply.endswith('Not done, send it on its own: "mark her qualified"')
    assert phone.text("YES") == "Nothing is waiting for confirmation."


def test_a_draft_for_a_lead_without_an_email_says_so(app, agent, phone) -> None:
    reply = phone.text("draft an email to Sarah Smith about the offer")
    assert reply.startswith("Draft email to Sarah Smith:\n")
    assert "No email address on file for Sarah Smith." in reply


def test_another_agents_lead_cannot_be_drafted_to(app, agent, phone) -> None:
    with get_db(app).session() as session:
        other = User(name="Other Agent", phone="+13125550999", timezone="America/Chicago")
        session.add(other)
        session.flush()
        session.add(Lead(agent_id=other.id, name="Zora Quill", status="new",
                         email="zora@example.com"))
        session.commit()
    reply = phone.text("Draft an email to Zora Quill about the offer")
    assert 'No lead named "Zora Quill"' in reply and _drafts(app) == []


# ---- by voice ----------------------------------------------------------------------------------


def test_by_voice_the_draft_is_texted_and_said_briefly(app, agent, dana) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("draft an email to dana cole about the inspection"))
    assert heard.startswith("I've drafted an email to Dana Cole, subject: The inspection. "
                            "I've texted you the draft with a link")
    assert heard.endswith("Anything else?")
    (draft,) = _drafts(app)
    with get_db(app).session() as session:
        texts = list(session.scalars(select(Message.body).where(
            Message.direction == "outbound", Message.channel == "sms")))
    assert len(texts) == 1 and f"/app/drafts/{draft.id}" in texts[0]
    heard = said(call.say("log it"))
    assert "log an email with Dana Cole: The inspection." in heard


# ---- the web app's draft page -----------------------------------------------------------------


def test_the_draft_page_shows_it_whole_with_open_in_mail_and_copy(app, agent, dana,
                                                                  phone) -> None:
    phone.text("Draft an email to Dana Cole about the inspection")
    (draft,) = _drafts(app)
    client = sign_in(app, agent.id)
    page = client.get(f"/app/drafts/{draft.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "<script>" not in html and " style=" not in html  # no inline script or style
    assert '<script src="/app/static/copy.js" defer></script>' in html
    assert client.get("/app/static/copy.js").status_code == 200
    href = re.search(r'href="(mailto:[^"]+)"', html).group(1).replace("&amp;", "&")
    parts = urlsplit(href)
    assert parts.path == "dana@example.com"
    fields = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert fields["subject"] == "The inspection"
    assert fields["body"] == draft.body.replace("\n", "\r\n")
    assert "%20" in href and "+" not in unquote(href.split("body=")[0])  # RFC 6068 spaces
    # without JavaScript: the text is in a box to copy by hand; the Copy buttons stay hidden
    assert 'readonly>' in html and draft.body.split("\n")[0] in html
    assert 'data-copy="draft-body" hidden' in html


def test_another_agents_draft_is_a_404_and_signed_out_is_sent_to_sign_in(app, agent, dana,
                                                                         phone) -> None:
    phone.text("Draft an email to Dana Cole about the inspection")
    (draft,) = _drafts(app)
    with get_db(app).session() as session:
        other = User(name="Other Agent", phone="+13125550999", timezone="America/Chicago")
        session.add(other)
        session.commit()
        other_id = other.id
    stranger = sign_in(app, other_id)
    assert stranger.get(f"/app/drafts/{draft.id}").status_code == 404
    assert stranger.get("/app/drafts/999999").status_code == 404
    token = csrf_of(stranger.get("/app/templates").get_data(as_text=True))
    assert stranger.post(f"/app/drafts/{draft.id}/log",
                         data={"csrf_token": token}).status_code == 404
    assert app.test_client().get(f"/app/drafts/{draft.id}").status_code == 303
    assert _emails_logged(app) == []


def test_i_sent_it_on_the_page_logs_the_email_once(app, agent, dana, phone) -> None:
    phone.text("Draft an email to Dana Cole about the inspection")
    (draft,) = _drafts(app)
    client = sign_in(app, agent.id)
    path = f"/app/drafts/{draft.id}"
    assert client.post(f"{path}/log", data={}).status_code == 400  # no CSRF token
    done = post_form(client, path, f"{path}/log", {})
    assert done.status_code == 303 and done.headers["Location"].endswith("done=logged")
    assert _emails_logged(app) == [("Dana Cole", "The inspection", "web")]
    assert "Logged as an email" in client.get(path).get_data(as_text=True)
    again = client.post(f"{path}/log", data={"csrf_token": csrf_of(
        client.get("/app/templates").get_data(as_text=True))})
    assert again.status_code == 409 and len(_emails_logged(app)) == 1
    # UNDO by text takes it back, and the draft can be logged again
    assert "remove the email logged with Dana Cole" in phone.text("undo")


def test_a_deleted_email_log_makes_the_draft_loggable_again(app, agent, dana, phone) -> None:
    phone.text("Draft an email to Dana Cole about the inspection")
    client = sign_in(app, agent.id)
    (draft,) = _drafts(app)
    post_form(client, f"/app/drafts/{draft.id}", f"/app/drafts/{draft.id}/log", {})
    with get_db(app).session() as session:
        session.execute(update(ClientInteraction).values(note="something else"))
        session.commit()
    assert phone.text("log it").startswith("Log email with Dana Cole: The inspection.")


# ---- assistant parse ---------------------------------------------------------------------------


def test_assistant_parse_shows_the_draft_and_stores_nothing(app, agent, dana, cli) -> None:
    result = cli.invoke(args=["assistant", "parse", "--agent", agent.phone,
                              "Draft an email to Dana Cole about the inspection"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "draft" and out["actions"] == []
    assert out["draft"]["lead"] == "Dana Cole" and out["draft"]["subject"] == "The inspection"
    assert out["draft"]["body"].startswith("Hi Dana,")
    assert out["reply"].startswith("Draft email to Dana Cole (dana@example.com):")
    assert _drafts(app) == []
