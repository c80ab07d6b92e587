"""Twilio Voice webhooks: POST /voice (incoming call), POST /voice/gather (each <Gather>
result), POST /voice/status (call status callback).

Thin on purpose, like /sms: verify the signature, read the form, hand over to
`webapp.channels.voice.calls.VoiceCalls`, render its answer as TwiML with twilio's `VoiceResponse`.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, Response, abort, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from db.models import User
from webapp.channels.twilio_signature import require_twilio_signature
from webapp.channels.voice.calls import CallStates, VoiceCalls, VoiceReply
from webapp.database import get_db
from webapp.outbound.messages import QUEUED, queue_text

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__)

# Twilio's CallSid is "CA" + 32 hex digits; anything not a short run of letters and digits is
# not a call of Twilio's (it would be cut to fit the database and collide with another).
_CALL_SID = re.compile(r"[A-Za-z0-9]{1,64}")
IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"

LANGUAGE = "en-US"
# Seconds Twilio waits for the caller to start speaking or keying (its default is 5).
GATHER_TIMEOUT = 6


def voice_calls(app: Flask | None = None) -> VoiceCalls:
    """The app's `VoiceCalls`, built on first use from the shared conversation and Redis."""
    app = app or current_app._get_current_object()
    calls = app.extensions.get("voice_calls")
    if calls is None:
        config = app.config
        calls = VoiceCalls(
            db=app.extensions["db"],
            conversation=app.extensions["conversation"],
            states=CallStates(app.extensions["redis"]),
            default_region=config["DEFAULT_COUNTRY"],
            min_confidence=float(config.get("VOICE_MIN_CONFIDENCE", 0.5)),
            result_wait=float(config.get("VOICE_RESULT_WAIT", 4)),
            max_turns=int(config.get("VOICE_MAX_TURNS", 20)),
            send_text=_text_agent,
        )
        app.extensions["voice_calls"] = calls
    return calls


def _text_agent(agent: User, body: str, plan_id: str | None) -> None:
    """Queue a text the way the worker does: written first, then handed to the broker."""
    with get_db().session() as session:
        message = queue_text(session, agent_id=agent.id, phone=agent.phone, body=body,
                             plan_id=plan_id, channel="sms")
        session.commit()
        message_id, status = message.id, message.status
    if status == QUEUED:
        current_app.extensions["task_queue"].send_message(message_id)


def twiml(reply: VoiceReply) -> Response:
    """The reply as TwiML: its words inside a <Gather> (so the caller can barge in) followed
    by a <Redirect> back to the gather URL (silence reaches us even if Twilio does not honour
    actionOnEmptyResult), or the words then <Hangup>."""
    response = VoiceResponse()
    action = url_for("voice.gather")
    if reply.listen:
        gather = response.gather(
            input="dtmf speech",
            action=action,
            method="POST",
            timeout=GATHER_TIMEOUT,
            speech_timeout="auto",
            speech_model="phone_call",
            enhanced=True,
            language=LANGUAGE,
            # One key ends the Gather at once: 1 = yes, 2 = no, or a numbered choice (1-9).
            num_digits=1,
            action_on_empty_result=True,
            hints=reply.hints or None,
        )
        for line in reply.say:
            gather.say(line, language=LANGUAGE)
        response.redirect(action, method="POST")
    else:
        for line in reply.say:
            response.say(line, language=LANGUAGE)
        if reply.hangup:
            response.hangup()
    return Response(str(response), mimetype="application/xml")


def call_sid() -> str:
    """The request's CallSid; 400 (nothing stored, nothing said) when it is not one."""
    sid = request.form.get("CallSid", "")
    if not _CALL_SID.fullmatch(sid):
        log.warning("voice webhook without a valid CallSid refused",
                    extra={"path": request.path, "length": len(sid)})
        abort(400)
    return sid


@bp.post("/voice")
@require_twilio_signature
def incoming_call() -> Response:
    form = request.form
    reply = voice_calls().answer(call_sid(), form.get("From", ""),
                                 request.headers.get(IDEMPOTENCY_HEADER))
    return twiml(reply)


@bp.post("/voice/gather")
@require_twilio_signature
def gather() -> Response:
    form = request.form
    reply = voice_calls().gather(
        call_sid(),
        form.get("From", ""),
        form.get("SpeechResult", ""),
        form.get("Confidence", ""),
        form.get("Digits", ""),
        request.headers.get(IDEMPOTENCY_HEADER),
    )
    return twiml(reply)


@bp.post("/voice/status")
@require_twilio_signature
def call_status() -> Response:
    form = request.form
    voice_calls().ended(call_sid(), form.get("CallStatus", ""))
    return Response(status=204)
