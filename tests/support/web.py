"""Driving the agents' web app with Flask's test client: sign in by a link, read forms."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient

from db.models import utcnow
from webapp.database import get_db
from webapp.web.csrf import csrf_token
from webapp.web.guard import PRE_COOKIE
from webapp.web.login_links import issue_link

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def new_link_path(app: Flask, agent_id: int, now: datetime | None = None) -> str:
    """A fresh one-time link's path (/login/<token>) for `agent_id`."""
    with get_db(app).session() as session:
        token = issue_link(session, agent_id, now or utcnow())
        session.commit()
    return f"/login/{token}"


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a page."""
    match = _CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(app: Flask, agent_id: int, client: FlaskClient | None = None) -> FlaskClient:
    """A test client signed in as `agent_id` the way a browser does: open the link, press the
    button."""
    client = client or app.test_client()
    path = new_link_path(app, agent_id)
    page = client.get(path)
    assert page.status_code == 200, page.data
    done = client.post(path, data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 303 and done.headers["Location"] == "/app", done.data
    return client


def post_form(client: FlaskClient, page_path: str, action: str, fields: dict[str, str]):
    """Open `page_path`, then post `fields` to `action` with the page's CSRF token."""
    token = csrf_of(client.get(page_path).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **fields})


def fresh_browser_token(app: Flask, client: FlaskClient) -> str:
    """Give a signed-out test browser its pre-session cookie and return the CSRF token forms
    would carry in it (as a page with a form would have)."""
    binding = "test-browser-binding-0123"
    client.set_cookie(PRE_COOKIE, binding)
    return csrf_token(app.config["SECRET_KEY"], binding)
