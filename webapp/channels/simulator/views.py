"""A local phone at /simulator: try the assistant as an agent without Twilio or a real phone.

Development only. What is typed goes through `SmsInbound.receive`, the very code behind the
signed Twilio webhook, so the simulator cannot drift from production behaviour: the same
duplicate check, rate limit, carrier keywords, conversation and recorded reply. The page then
renders only the `messages` table (the immediate reply is stored there as an outbound row with
status "replied", and the workers' later result texts are rows too), so every text shows once,
in order, whether it was said at once or minutes later.

Off unless `SIMULATOR_ENABLED` is true *and* `APP_ENV` is development or testing: it lets
anyone who can reach the page act as any agent, so in any other configuration every route here
answers 404, as if it did not exist.

Registration (in `create_app`): ``app.register_blueprint(simulator.views.bp)``; the routes
check the config on each request, so registering unconditionally is safe.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from sqlalchemy import select

from db.models import Message, User, utcnow
from webapp.channels.sms.inbound import Inbound
from webapp.crm.agents import find_agent
from webapp.crm.demo import DEMO_AGENT
from webapp.database import get_db
from webapp.web.login_links import issue_link

ALLOWED_ENVIRONMENTS = ("development", "testing")
FEED_LIMIT = 200  # rows per poll; the page asks again at once when it got a full page
HISTORY_LIMIT = 100  # on first load, the latest this many rows (a long history is not needed)
MAX_TEXT = 5000  # larger than SMS's own limit so the "too long" reply can be tried, but bounded

# The page loads its script and style from this blueprint only; nothing inline may run, so even
# a message body that slipped past escaping could not execute.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

bp = Blueprint(
    "simulator",
    __name__,
    url_prefix="/simulator",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)


def simulator_enabled(config: dict[str, Any]) -> bool:
    """Whether the simulator may answer: both the switch and a non-production environment,
    so a stray SIMULATOR_ENABLED=true in production still exposes nothing."""
    return bool(config.get("SIMULATOR_ENABLED")) and config.get("APP_ENV") in ALLOWED_ENVIRONMENTS


@bp.before_request
def _only_when_enabled() -> None:
    """404 (not 403) when off: a production app should not even reveal the page exists."""
    if not simulator_enabled(current_app.config):
        abort(404)


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def _json_error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _agent_or_error(phone: str | None) -> User | Response:
    """The agent for `phone` (any format), or the JSON error to answer with. Only agents may be
    simulated: an unknown number would just be told it is not registered, and would leave a
    stray inbound row behind."""
    if not phone:
        return _json_error(400, "agent (the agent's phone number) is required")
    with get_db().session() as session:
        agent = find_agent(session, phone, current_app.config["DEFAULT_COUNTRY"])
        if agent is None:
            return _json_error(404, f"no agent with phone {phone}")
        session.expunge(agent)
        return agent


@bp.get("")
@bp.get("/")
def page() -> str:
    """The phone page, as the agent chosen with ?agent= (else the demo agent, else the first)."""
    with get_db().session() as session:
        agents = [(a.name, a.phone) for a in session.scalars(select(User).order_by(User.id))]
        asked = request.args.get("agent")
        chosen = find_agent(session, asked, current_app.config["DEFAULT_COUNTRY"]) if asked \
            else None
    phones = [phone for _, phone in agents]
    if chosen is not None:
        current = chosen.phone
    elif DEMO_AGENT["phone"] in phones:
        current = DEMO_AGENT["phone"]
    else:
        current = phones[0] if phones else None
    current_name = next((name for name, phone in agents if phone == current), None)
    return render_template(
        "simulator.html",
        agents=agents,
        current=current,
        current_name=current_name,
        assistant_phone=current_app.config.get("TWILIO_PHONE_NUMBER") or "",
    )


@bp.post("/send")
def send() -> Response:
    """Take one typed text as the agent, exactly as an inbound SMS, and return the reply.

    JSON only: a cross-site form cannot send `application/json` without a CORS preflight this
    app never grants, so another web page open in the developer's browser cannot make CRM
    changes through the simulator.
    """
    data = request.get_json(silent=True) if request.is_json else None
    if not isinstance(data, dict):
        return _json_error(415, "send JSON: {\"agent\": \"+1...\", \"text\": \"...\"}")
    text = data.get("text")
    if not isinstance(text, str):
        return _json_error(400, "text must be a string")
    if len(text) > MAX_TEXT:
        return _json_error(400, f"text is longer than {MAX_TEXT} characters")
    agent = _agent_or_error(data.get("agent") if isinstance(data.get("agent"), str) else None)
    if isinstance(agent, Response):
        return agent
    message = Inbound(sid="SIM" + uuid.uuid4().hex, from_phone=agent.phone, body=text,
                      channel="sms")
    reply = current_app.extensions["sms_inbound"].receive(message)
    return jsonify({"sid": message.sid, "reply": reply})


@bp.get("/messages")
def messages() -> Response:
    """The agent's messages (both directions) with id > `after`, oldest first, at most
    FEED_LIMIT (`more` says another page is waiting).

    Without `after`, only the latest HISTORY_LIMIT rows, so opening the page on a long history
    stays quick. The page then polls with the last id it has shown.
    """
    raw_after = request.args.get("after")
    try:
        after = int(raw_after) if raw_after is not None else None
    except ValueError:
        after = -1
    if after is not None and after < 0:
        return _json_error(400, "after must be a message id (a whole number)")
    agent = _agent_or_error(request.args.get("agent"))
    if isinstance(agent, Response):
        return agent
    query = select(Message).where(Message.agent_id == agent.id)
    with get_db().session() as session:
        if after is None:
            rows = list(session.scalars(query.order_by(Message.id.desc()).limit(HISTORY_LIMIT)))
            rows.reverse()
        else:
            rows = list(session.scalars(
                query.where(Message.id > after).order_by(Message.id).limit(FEED_LIMIT)))
        return jsonify({
            "agent": agent.phone,
            "messages": [_row(m) for m in rows],
            "more": after is not None and len(rows) == FEED_LIMIT,
        })


@bp.get("/web-sign-in")
def web_sign_in() -> Response:
    """Development's shortcut to the web app: a fresh one-time link for the agent chosen on the
    page (else the demo agent), opened at once. The link's page still asks for its button."""
    phone = request.args.get("agent") or DEMO_AGENT["phone"]
    with get_db().session() as session:
        agent = find_agent(session, phone, current_app.config["DEFAULT_COUNTRY"])
        if agent is None:
            abort(404)
        token = issue_link(session, agent.id, utcnow())
        session.commit()
    return redirect(f"/login/{token}", code=303)


def _row(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "channel": message.channel,
        "body": message.body,
        "status": message.status,
        "created_at": _iso(message.created_at),
    }


def _iso(instant: datetime | None) -> str | None:
    return instant.isoformat() if instant is not None else None
