"""The baseline for bench/sms_load.py: a bare Flask app whose POST /sms answers constant TwiML.

Served by the same gunicorn (same worker count and class) as the real webhook, so the ratio
real/bare says what Fieldline's own work costs on top of HTTP + WSGI + Flask + TwiML rendering.
It does no signature check, database or Redis work; it does read the form (as the real view
does) so request parsing is not counted against the real app alone.

    gunicorn --workers 2 bench.bare_twiml_app:app
"""

from __future__ import annotations

from flask import Flask, Response, request
from twilio.twiml.messaging_response import MessagingResponse

BARE_REPLY = "Got it. Reply YES to confirm or NO to cancel."

app = Flask(__name__)


@app.post("/sms")
def inbound_sms() -> Response:
    request.form.get("Body", "")  # parse the body like the real view does
    response = MessagingResponse()
    response.message(BARE_REPLY)
    return Response(str(response), mimetype="application/xml")
