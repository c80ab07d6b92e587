"""Twilio Messaging webhooks: POST /sms (inbound texts) and POST /sms/status (delivery reports).

Thin on purpose: verify, normalize, hand over, render TwiML.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from twilio.twiml.messaging_response import MessagingResponse

from webapp.channels.sms.inbound import Inbound
from webapp.channels.twilio_signature import require_twilio_signature
from webapp.database import get_db
from webapp.outbound.delivery_status import record_status

bp = Blueprint("sms", __name__)


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
        sid=form.get("MessageSid") or form.get("SmsSid") or "",
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
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    with get_db().session() as session:
        record_status(session, sid, status, form.get("ErrorCode") or None)
        session.commit()
    return Response(status=204)
