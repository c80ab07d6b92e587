"""A phone that texts the app as Twilio would: signed inbound-SMS webhooks, TwiML read as XML."""

from __future__ import annotations

import itertools
import os
import xml.etree.ElementTree as ET

from flask import Flask
from twilio.request_validator import RequestValidator

# Every body a test sends in as an agent: none may appear in an INFO-or-above log line
# (conftest's autouse check reads this).
SENT_BODIES: list[str] = []

_sids = itertools.count(1)  # MessageSids unique across phones, as Twilio's are


def sign(app: Flask, path: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of `params` to `path`."""
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
    return validator.compute_signature(app.config["PUBLIC_BASE_URL"] + path, params)


class SmsPhone:
    """Sends signed inbound-SMS webhooks as one phone, as Twilio would."""

    def __init__(self, app: Flask, phone: str) -> None:
        self.app = app
        self.client = app.test_client()
        self.phone = phone
        self.count = 0

    def post(self, body: str, sid: str | None = None, **extra: str):
        self.count += 1
        SENT_BODIES.append(body)
        params = {
            "MessageSid": sid or f"SM{os.getpid():08x}{next(_sids):024x}",
            "AccountSid": self.app.config["TWILIO_ACCOUNT_SID"],
            "From": self.phone,
            "To": self.app.config["TWILIO_PHONE_NUMBER"],
            "Body": body,
            "NumMedia": "0",
            **extra,
        }
        return self.client.post(
            "/sms", data=params, headers={"X-Twilio-Signature": sign(self.app, "/sms", params)}
        )

    def text(self, body: str, **extra: str) -> str | None:
        """Send `body`; return the TwiML reply's message text (None for an empty reply)."""
        response = self.post(body, **extra)
        assert response.status_code == 200, response.data
        return twiml_message(response.data)


def twiml_message(data: bytes) -> str | None:
    """The text of the single <Message> in a TwiML <Response>, checked as XML."""
    root = ET.fromstring(data)
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None
