"""Signing in and out: /login (how to), /login/<token> (the texted link), /logout.

Opening a link (GET) only shows "Continue as <name>": link previews and scanners fetch URLs,
and must not use up the agent's link or sign anyone in. The button (a POST with the CSRF token)
uses the link and starts a session in one transaction. The token is never logged: the access
log masks /login/<token> (webapp/ops/logs.py), and pages send no Referer.
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, g, redirect, render_template, url_for
from werkzeug.wrappers import Response

from webapp.database import get_db
from webapp.web.display import phone
from webapp.web.guard import clear_session_cookie, protect, set_session_cookie
from webapp.web.login_links import consume_link, peek_link
from webapp.web.web_sessions import end_all_sessions, end_session, start_session

bp = protect(Blueprint("web_sign_in", __name__, template_folder="templates"))

# What `secrets.token_urlsafe(32)` makes; anything else cannot be a link of ours.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _assistant_number() -> str:
    return phone(current_app.config.get("TWILIO_PHONE_NUMBER") or "")


@bp.get("/login")
def how_to_sign_in() -> Response | str:
    if g.web_agent is not None:
        return redirect(url_for("web.pipeline"), code=303)
    return render_template("web/sign_in_how.html", assistant=_assistant_number())


@bp.get("/login/<token>")
def link_page(token: str) -> tuple[str, int] | str:
    state = None
    if _TOKEN.fullmatch(token):
        with get_db().session() as session:
            state = peek_link(session, token, g.web_now)
    if state is None or not state.usable:
        return _link_spent(404 if state is None or state.agent is None else 410)
    return render_template("web/sign_in_continue.html", name=state.agent.name, token=token)


@bp.post("/login/<token>")
def use_link(token: str) -> Response | tuple[str, int]:
    if not _TOKEN.fullmatch(token):
        return _link_spent(404)
    with get_db().session() as session:
        agent_id = consume_link(session, token, g.web_now)
        if agent_id is None:
            return _link_spent(410)
        session_id = start_session(session, agent_id, g.web_now, replacing=g.web_session_id)
        session.commit()
    response = redirect(url_for("web.pipeline"), code=303)
    set_session_cookie(response, session_id)
    return response


def _link_spent(status: int) -> tuple[str, int]:
    return render_template("web/sign_in_spent.html", assistant=_assistant_number()), status


@bp.post("/logout")
def sign_out() -> Response:
    if g.web_session_id:
        with get_db().session() as session:
            end_session(session, g.web_session_id)
            session.commit()
    response = redirect(url_for("web_sign_in.how_to_sign_in", out=1), code=303)
    clear_session_cookie(response)
    return response


@bp.post("/logout/everywhere")
def sign_out_everywhere() -> Response:
    if g.web_agent is not None:
        with get_db().session() as session:
            end_all_sessions(session, g.web_agent.id)
            session.commit()
    response = redirect(url_for("web_sign_in.how_to_sign_in", out="all"), code=303)
    clear_session_cookie(response)
    return response
