"""What every web-app request goes through: who is signed in, the CSRF check on every POST,
and the security headers on every answer (static files included).

Installed per blueprint (`protect(bp)`), so the web app's strict headers hold whatever the rest
of the app sets globally, and the Twilio webhooks are untouched by cookies and CSRF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState

from db.models import User
from webapp.database import get_db
from webapp.web import display
from webapp.web.csrf import FIELD, csrf_token, csrf_valid, new_binding
from webapp.web.web_sessions import SESSION_LIFETIME, session_agent

SESSION_COOKIE = "fl_session"
PRE_COOKIE = "fl_pre"  # binds the sign-in form's CSRF token to this browser
PRE_LIFETIME = 24 * 3600

# No script at all; styles and images only from this app; forms post only here; no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",  # the sign-in URL holds a secret
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
}

# A page that sets `g.web_script` (the draft page's Copy button, issue 19) may load this app's
# own script files; inline script stays forbidden everywhere.
SCRIPT_POLICY = CONTENT_SECURITY_POLICY + "; script-src 'self'"

WEB_BLUEPRINTS = frozenset({"web", "web_sign_in", "web_forms", "web_settings", "web_drafts"})

View = TypeVar("View", bound=Callable[..., Any])


def protect(bp: Blueprint) -> Blueprint:
    bp.before_request(_load_and_check)
    bp.after_request(_finish)
    bp.context_processor(_template_helpers)
    bp.record_once(_headers_last)
    return bp


def _headers_last(state: BlueprintSetupState) -> None:
    """Flask runs a blueprint's after_request hooks before the app's, so an app-wide hook that
    sets its own (laxer) CSP would overwrite ours. This app-level hook, first in the list and
    so run last, puts the web app's headers back on its own pages."""
    hooks = state.app.after_request_funcs.setdefault(None, [])
    if _reassert_headers not in hooks:
        hooks.insert(0, _reassert_headers)


def _reassert_headers(response: Response) -> Response:
    if request.blueprint in WEB_BLUEPRINTS:
        _set_security_headers(response)
    return response


def _set_security_headers(response: Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if g.get("web_script"):
        response.headers["Content-Security-Policy"] = SCRIPT_POLICY


def signed_in(view: View) -> View:
    """Only for a signed-in agent; anyone else is sent to the page that says how to sign in."""
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.web_agent is None:
            return redirect(url_for("web_sign_in.how_to_sign_in"), code=303)
        return view(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


def current_agent() -> User:
    return g.web_agent


def agent_zone() -> ZoneInfo:
    return ZoneInfo(g.web_agent.timezone)


def _load_and_check() -> Response | tuple[str, int] | None:
    g.web_now = datetime.now(UTC)
    session_id = request.cookies.get(SESSION_COOKIE) or None
    agent = None
    if session_id:
        with get_db().session() as session:
            agent = session_agent(session, session_id, g.web_now)
            if agent is not None:
                session.expunge(agent)
    g.web_agent = agent
    g.web_session_id = session_id if agent is not None else None
    g.web_forget_session = bool(session_id) and agent is None
    pre = request.cookies.get(PRE_COOKIE) or ""
    g.web_pre = pre if 16 <= len(pre) <= 64 else None
    g.web_set_pre = False
    if request.method == "POST":
        return _check_post()
    return None


def _check_post() -> tuple[str, int] | None:
    """Refuse a POST that another site made (Sec-Fetch-Site, where the browser sends it) or
    that lacks this browser's CSRF token."""
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        return _refused()
    binding = g.web_session_id or g.web_pre
    if not csrf_valid(current_app.config["SECRET_KEY"], binding, request.form.get(FIELD)):
        return _refused()
    return None


def _refused() -> tuple[str, int]:
    return render_template("web/refused.html"), 400


def form_token() -> str:
    """The CSRF token for forms on this page (a pre-session cookie is set when needed)."""
    binding = g.web_session_id or g.web_pre
    if binding is None:
        binding = g.web_pre = new_binding()
        g.web_set_pre = True
    return csrf_token(current_app.config["SECRET_KEY"], binding)


def set_session_cookie(response: Response, session_id: str) -> None:
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(SESSION_LIFETIME.total_seconds()),
                        httponly=True, secure=request.is_secure, samesite="Lax", path="/")
    g.web_forget_session = False


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=request.is_secure,
                           samesite="Lax")


def _finish(response: Response) -> Response:
    _set_security_headers(response)
    if not (request.endpoint or "").endswith(".static"):
        response.headers["Cache-Control"] = "no-store"
    if g.get("web_set_pre"):
        response.set_cookie(PRE_COOKIE, g.web_pre, max_age=PRE_LIFETIME, httponly=True,
                            secure=request.is_secure, samesite="Lax", path="/")
    if g.get("web_forget_session") and SESSION_COOKIE not in _cookies_set(response):
        clear_session_cookie(response)
    return response


def _cookies_set(response: Response) -> set[str]:
    return {header.split("=", 1)[0] for header in response.headers.getlist("Set-Cookie")}


def _template_helpers() -> dict[str, Any]:
    agent = g.get("web_agent")
    zone = ZoneInfo(agent.timezone) if agent is not None else ZoneInfo("UTC")
    now = g.get("web_now") or datetime.now(UTC)
    return {
        "agent": agent,
        "csrf_field": FIELD,
        "csrf_token": form_token,
        "when": lambda moment: display.when(moment, zone, now),
        "day": lambda moment: display.day(moment, zone, now),
        "clock": lambda moment: display.clock(moment, zone),
        "duration": display.duration,
        "status_label": display.status_label,
        "phone": display.phone,
        "now": now,
    }
