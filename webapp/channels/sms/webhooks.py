"""Twilio Messaging webhooks: POST /sms (inbound texts) and POST /sms/status (delivery reports).

Thin on purpose: verify, normalize, hand over, render TwiML.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, abort, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from webapp.channels.sms.inbound import Inbound
from webapp.channels.twilio_signature import require_twilio_signature
from webapp.database import get_db
from webapp.outbound.delivery_status import record_status

log = logging.getLogger(__name__)

bp = Blueprint("sms", __name__)

# Twilio's MessageSid is "SM" (or "MM") + 32 hex digits. One that is not a short run of letters
# and digits is not Twilio's, and would not fit the database (whose error would be logged).
_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{1,64}")


def message_sid() -> str:
    """The request's MessageSid ("" when absent); 400 when it cannot be one."""
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if sid and not _MESSAGE_SID.fullmatch(sid):
        log.warning("SMS webhook with an invalid MessageSid refused",
                    extra={"path": request.path, "length": len(sid)})
        abort(400)
    return sid


def twiml(reply: str | None) -> Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), mimetype="application/xml")


@bp.post("/sms")
@require_twilio_signature
def inbound_sms() -> Response:
    form = request.form
    try:
        num_media = int(form.get("NumMedia", "0") or 0)
    except ValueError:
        num_media = 0
    message = Inbound(
        sid=message_sid(),
        from_phone=form.get("From", ""),
        body=form.get("Body", ""),
        num_media=num_media,
        idempotency_token=request.headers.get("I-Twilio-Idempotency-Token"),
    )
    reply = current_app.extensions["sms_inbound"].receive(message)
    return twiml(reply)


@bp.post("/sms/status")
@require_twilio_signature
def delivery_status() -> Response:
    form = request.form
    sid = message_sid()
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    with get_db().session() as session:
        record_status(session, sid, status, form.get("ErrorCode") or None)
        session.commit()
    return Response(status=204)
