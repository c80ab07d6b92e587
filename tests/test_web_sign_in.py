"""Signing in to the web app by a one-time link, sessions, sign-out, CSRF and the headers.

Flask test client against the real database (SQLite and PostgreSQL) and the real Redis. The
browser-level checks are in tests/system/test_web_browser.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import LoginLink, User, WebSession
from tests.support.web import csrf_of, fresh_browser_token, new_link_path, sign_in
from webapp.database import get_db
from webapp.ops.logs import make_handler
from webapp.web.guard import SESSION_COOKIE
from webapp.web.login_links import LINKS_PER_WINDOW, link_maker


def _links(app: Flask) -> list[LoginLink]:
    with get_db(app).session() as session:
        return list(session.scalars(select(LoginLink).order_by(LoginLink.id)))


def _sessions(app: Flask) -> list[WebSession]:
    with get_db(app).session() as session:
        return list(session.scalars(select(WebSession).order_by(WebSession.id)))


def _other_agent(app: Flask) -> int:
    with get_db(app).session() as session:
        other = User(name="Blake Ng", phone="+13125550199", timezone="America/New_York")
        session.add(other)
        session.commit()
        return other.id


def _cookie(response, name: str) -> str | None:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    return None


# --- the link ----------------------------------------------------------------------------

def test_the_cli_prints_a_link_as_its_last_line_and_only_its_hash_is_stored(app, cli,
                                                                           agent) -> None:
    result = cli.invoke(args=["agents", "login-link", "--agent", "(312) 555-0100"])
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("https://fieldline.test/login/")
    token = link.rsplit("/", 1)[1]
    assert len(token) == 43
    (row,) = _links(app)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps([str(v) for v in vars(row).values()])
    assert row.agent_id == agent.id and row.used_at is None
    assert row.expires_at - row.created_at == timedelta(minutes=15)


def test_the_cli_refuses_an_unknown_agent(cli, agent) -> None:
    result = cli.invoke(args=["agents", "login-link", "--agent", "+13125550111"])
    assert result.exit_code != 0 and "no agent" in result.output


def test_opening_the_link_shows_continue_as_and_consumes_nothing(app, agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id)
    for _ in range(2):  # a link preview, then the agent: both only look
        page = client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "Continue as Alex Rivera" in html
        assert _cookie(page, SESSION_COOKIE) is None
    assert _links(app)[0].used_at is None
    assert _sessions(app) == []
    assert client.get("/app").status_code == 303  # nobody is signed in


def test_the_button_signs_in_once_with_a_safe_cookie(app, agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id)
    token = csrf_of(client.get(path).get_data(as_text=True))
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 303 and done.headers["Location"] == "/app"
    cookie = _cookie(done, SESSION_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Max-Age=2592000" in cookie  # 30 days
    assert "Secure" not in cookie  # plain http here; see the https test
    assert client.get("/app").status_code == 200
    (link,) = _links(app)
    assert link.used_at is not None
    (session_row,) = _sessions(app)
    assert session_row.agent_id == agent.id
    assert session_row.expires_at - session_row.created_at == timedelta(days=30)
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert session_row.id_hash == hashlib.sha256(session_id.encode()).hexdigest()

    # The second use is refused, on a fresh browser as on the same one.
    again = app.test_client()
    page = again.get(path)
    assert page.status_code == 410
    assert "no longer works" in page.get_data(as_text=True)
    assert "LOGIN" in page.get_data(as_text=True)
    refused = again.post(path, data={"csrf_token": fresh_browser_token(app, again)})
    assert refused.status_code == 410
    assert again.get("/app").status_code == 303
    same = client.post(path, data={"csrf_token": csrf_of(client.get("/app").get_data(
        as_text=True))})
    assert same.status_code == 410
    assert len(_sessions(app)) == 1


def test_the_cookie_is_secure_under_https(app, agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id)
    page = client.get(path, base_url="https://fieldline.test")
    done = client.post(path, base_url="https://fieldline.test",
                       data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert done.status_code == 303
    assert "Secure" in _cookie(done, SESSION_COOKIE)


def test_the_button_without_its_csrf_token_is_refused_and_the_link_stays_unused(app,
                                                                              agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id)
    client.get(path)
    for data in ({}, {"csrf_token": "0" * 64}):
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert "could not be accepted" in response.get_data(as_text=True)
    assert _links(app)[0].used_at is None and _sessions(app) == []


def test_a_token_from_another_browser_is_refused(app, agent) -> None:
    """Login CSRF: a page another site shows cannot carry a token for the agent's browser."""
    path = new_link_path(app, agent.id)
    attacker = app.test_client()
    token = csrf_of(attacker.get(path).get_data(as_text=True))
    victim = app.test_client()
    assert victim.post(path, data={"csrf_token": token}).status_code == 400
    assert _links(app)[0].used_at is None


def test_a_post_another_site_made_is_refused_even_with_a_token(app, agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id)
    token = csrf_of(client.get(path).get_data(as_text=True))
    response = client.post(path, data={"csrf_token": token},
                           headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 400
    assert _links(app)[0].used_at is None


def test_an_expired_link_is_refused(app, agent) -> None:
    client = app.test_client()
    path = new_link_path(app, agent.id, now=datetime.now(UTC) - timedelta(minutes=16))
    assert client.get(path).status_code == 410
    token = fresh_browser_token(app, client)
    assert client.post(path, data={"csrf_token": token}).status_code == 410
    assert _sessions(app) == []


def test_a_new_link_retires_the_older_unused_ones(app, agent) -> None:
    client = app.test_client()
    first = new_link_path(app, agent.id)
    second = new_link_path(app, agent.id)
    assert client.get(first).status_code == 410
    page = client.get(second)
    assert page.status_code == 200
    assert client.post(first, data={"csrf_token": csrf_of(page.get_data(as_text=True))}
                       ).status_code == 410
    assert client.post(second, data={"csrf_token": csrf_of(page.get_data(as_text=True))}
                       ).status_code == 303


def test_a_link_signs_in_only_its_own_agent(app, agent) -> None:
    other_id = _other_agent(app)
    client = sign_in(app, other_id)
    html = client.get("/app").get_data(as_text=True)
    assert "Blake Ng" in html and "Alex Rivera" not in html


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 200, "x" * 42 + "!"])
def test_an_unknown_or_malformed_link_is_not_found(app, agent, token) -> None:
    client = app.test_client()
    response = client.get(f"/login/{token}")
    assert response.status_code == 404
    assert "no longer works" in response.get_data(as_text=True)


def test_link_requests_are_rate_limited_per_agent(app, agent) -> None:
    other_id = _other_agent(app)
    make = link_maker(get_db(app), app.extensions["redis"], "https://fieldline.test")
    now = datetime.now(UTC)
    with get_db(app).session() as session:
        alex, blake = session.get(User, agent.id), session.get(User, other_id)
        session.expunge_all()
    links = [make(alex, now) for _ in range(LINKS_PER_WINDOW)]
    assert all(link and link.startswith("https://fieldline.test/login/") for link in links)
    assert make(alex, now) is None
    assert make(blake, now) is not None  # per agent
    with get_db(app).session() as session:
        made = session.scalar(select(func.count()).select_from(LoginLink)
                              .where(LoginLink.agent_id == agent.id))
    assert made == LINKS_PER_WINDOW


# --- sessions ------------------------------------------------------------------------------

def test_signing_in_again_issues_a_new_session_id_and_ends_the_old_one(app, agent) -> None:
    client = sign_in(app, agent.id)
    (first,) = _sessions(app)
    sign_in(app, agent.id, client)
    (second,) = _sessions(app)
    assert second.id_hash != first.id_hash
    assert client.get("/app").status_code == 200


def test_a_planted_session_cookie_is_never_promoted(app, agent) -> None:
    client = app.test_client()
    client.set_cookie(SESSION_COOKIE, "planted-by-someone-else")
    sign_in(app, agent.id, client)
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie.value != "planted-by-someone-else"


def test_sign_out_ends_the_session(app, agent) -> None:
    client = sign_in(app, agent.id)
    token = csrf_of(client.get("/app").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["Location"] == "/login?out=1"
    assert _sessions(app) == []
    assert client.get("/app").status_code == 303
    assert "signed out" in client.get("/login?out=1").get_data(as_text=True)


def test_sign_out_everywhere_ends_every_session_of_the_agent_only(app, agent) -> None:
    phone, laptop = sign_in(app, agent.id), sign_in(app, agent.id)
    other = sign_in(app, _other_agent(app))
    token = csrf_of(phone.get("/app").get_data(as_text=True))
    assert phone.post("/logout/everywhere", data={"csrf_token": token}).status_code == 303
    assert phone.get("/app").status_code == 303
    assert laptop.get("/app").status_code == 303
    assert other.get("/app").status_code == 200
    assert len(_sessions(app)) == 1


def test_sign_out_without_the_csrf_token_is_refused(app, agent) -> None:
    client = sign_in(app, agent.id)
    assert client.post("/logout").status_code == 400
    assert client.get("/app").status_code == 200


def test_an_expired_session_signs_nobody_in_and_its_cookie_is_dropped(app, agent) -> None:
    client = sign_in(app, agent.id)
    with get_db(app).session() as session:
        for row in session.scalars(select(WebSession)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    response = client.get("/app")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "Max-Age=0" in _cookie(response, SESSION_COOKIE) or "Expires=Thu, 01 Jan 1970" in \
        _cookie(response, SESSION_COOKIE)


def test_the_sign_in_page_says_how_to_get_a_link(app, agent) -> None:
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    assert "LOGIN" in html and "+1 312-555-0000" in html
    signed = sign_in(app, agent.id)
    assert signed.get("/login").headers["Location"] == "/app"


# --- headers and logs ----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/login", "/login/" + "x" * 43, "/app", "/app/leads/1",
                                  "/app/agenda", "/app/reports", "/app/export.csv",
                                  "/app/export.json", "/app/static/web.css",
                                  "/app/leads/999999"])
def test_every_page_sends_the_security_headers(app, agent, path) -> None:
    client = sign_in(app, agent.id)
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp  # no script at all
    assert "style-src 'self'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if not path.startswith("/app/static"):
        assert response.headers["Cache-Control"] == "no-store"


def test_the_headers_hold_over_an_app_wide_hook_that_sets_its_own(app, agent) -> None:
    """Another part of the app may set a default CSP on every response; the web app's pages
    keep their strict one (the webhooks and the rest keep the default)."""
    def lax_default(response):
        response.headers["Content-Security-Policy"] = "default-src *"
        response.headers["Referrer-Policy"] = "origin"
        return response

    app.after_request(lax_default)
    client = sign_in(app, agent.id)
    for path in ("/app", "/login", "/app/static/web.css"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/healthz").headers["Content-Security-Policy"] == "default-src *"


def test_no_page_has_inline_script_or_style(app, agent) -> None:
    client = sign_in(app, agent.id)
    for path in ("/app", "/app/agenda", "/app/reports", "/login"):
        html = client.get(path).get_data(as_text=True).lower()
        assert "<script" not in html and "<style" not in html and " style=" not in html
        assert "http://" not in html and "https://" not in html.replace(
            'xmlns="http://www.w3.org/2000/svg"', "")  # nothing from elsewhere


def test_the_token_never_reaches_the_access_log() -> None:
    """gunicorn's access line (the path atom) and any message naming the path are masked."""
    from gunicorn.glogging import SafeAtoms

    token = "Zq3" + "k" * 40
    stream = io.StringIO()
    handler = make_handler(stream)
    access = logging.getLogger("gunicorn.access")
    access.addHandler(handler)
    access.propagate, old_propagate = False, access.propagate
    access.setLevel(logging.INFO)
    try:
        atoms = SafeAtoms({"h": "10.0.0.1", "m": "GET", "U": f"/login/{token}", "s": "200",
                           "B": 512, "D": 12345, "M": 12, "a": "curl",
                           "{x-request-id}o": "abc123def4567890"})
        access.info('%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s', atoms)
        logging.getLogger("flask.app").addHandler(handler)
        logging.getLogger("flask.app").error("Exception on /login/%s [POST]", token)
    finally:
        access.removeHandler(handler)
        access.propagate = old_propagate
        logging.getLogger("flask.app").removeHandler(handler)
    written = stream.getvalue()
    assert token not in written
    assert json.loads(written.splitlines()[0])["path"] == "/login/***"


# --- the simulator's shortcut (development only) ---------------------------------------------

@pytest.mark.parametrize("settings", [{"SIMULATOR_ENABLED": True}], ids=["simulator-on"])
def test_the_simulator_links_to_the_sign_in_of_the_agent_it_shows(app, agent, settings) -> None:
    client = app.test_client()
    html = client.get("/simulator").get_data(as_text=True)
    assert 'href="/simulator/web-sign-in?agent=%2B13125550100"' in html
    assert "Open the web app as Alex Rivera" in html
    response = client.get("/simulator/web-sign-in?agent=%2B13125550100")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert "Continue as Alex Rivera" in page.get_data(as_text=True)
    assert client.get("/simulator/web-sign-in?agent=%2B13125550111").status_code == 404


@pytest.mark.parametrize("settings", [{"SIMULATOR_ENABLED": False},
                                      {"SIMULATOR_ENABLED": True, "APP_ENV": "production"}],
                         ids=["simulator-off", "production"])
def test_the_simulators_shortcut_does_not_exist_outside_development(app, agent,
                                                                    settings) -> None:
    assert app.test_client().get("/simulator/web-sign-in").status_code == 404
    assert _links(app) == []
