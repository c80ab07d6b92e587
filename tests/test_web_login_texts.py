"""Asking for the web app by text or call: "login", "web", "dashboard", "link".

A text gets a fresh one-time link in its reply (kept masked in `messages`); a call says the
link was texted and texts it; `assistant parse` names the kind and makes no link.
"""

from __future__ import annotations

import json
import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import LoginLink, Message
from tests.support.voice import VoicePhone, listens, said
from tests.support.web import csrf_of
from webapp.conversation.conversation import LOGIN_LIMITED
from webapp.database import get_db
from webapp.web.login_links import LINKS_PER_WINDOW

LINK = re.compile(r"https://fieldline\.test(/login/[A-Za-z0-9_-]{43})")


def _messages(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _link_count(app: Flask) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count()).select_from(LoginLink)) or 0


@pytest.mark.parametrize("word", ["login", "WEB", "Dashboard", "link", "send me the login link"])
def test_a_text_asking_for_the_web_app_gets_a_link_that_signs_in(app, phone, agent,
                                                                 word) -> None:
    reply = phone.text(word)
    match = LINK.search(reply)
    assert match, reply
    assert "15 minutes" in reply
    client = app.test_client()
    page = client.get(match.group(1))
    assert "Continue as Alex Rivera" in page.get_data(as_text=True)
    done = client.post(match.group(1),
                       data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 303
    assert client.get("/app").status_code == 200


def test_the_recorded_reply_keeps_the_link_masked(app, phone, agent) -> None:
    reply = phone.text("login")
    token = LINK.search(reply).group(1).rsplit("/", 1)[1]
    stored = [m.body for m in _messages(app) if m.direction == "outbound"]
    assert stored == [reply.replace(token, "***")]
    assert all(token not in m.body for m in _messages(app))


def test_a_new_link_by_text_retires_the_previous_one(app, phone, agent) -> None:
    first = LINK.search(phone.text("login")).group(1)
    second = LINK.search(phone.text("link")).group(1)
    client = app.test_client()
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


def test_asking_too_often_is_refused_without_a_link(app, phone, agent) -> None:
    for _ in range(LINKS_PER_WINDOW):
        assert LINK.search(phone.text("login"))
    reply = phone.text("login")
    assert reply == LOGIN_LIMITED
    assert _link_count(app) == LINKS_PER_WINDOW


def test_assistant_parse_names_the_kind_and_makes_no_link(app, cli, agent) -> None:
    result = cli.invoke(args=["assistant", "parse", "--agent", agent.phone, "dashboard"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "login" and out["actions"] == []
    assert "/login/" not in out["reply"]
    assert _link_count(app) == 0


def test_a_caller_hears_that_the_link_was_texted_and_gets_it_by_text(app, agent) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    root = call.say("log in please")
    words = said(root)
    assert "texted you a link" in words and "/login/" not in words
    assert listens(root)
    texts = [m for m in _messages(app) if m.direction == "outbound" and m.channel == "sms"]
    assert len(texts) == 1 and texts[0].status == "queued"
    path = LINK.search(texts[0].body).group(1)
    assert app.test_client().get(path).status_code == 200
    spoken = [m.body for m in _messages(app) if m.channel == "voice"]
    assert not any("/login/" in body for body in spoken)
