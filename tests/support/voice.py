"""A phone call as Twilio drives it: signed POSTs with one CallSid, TwiML read as XML."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

from flask import Flask

from tests.support.sms import sign

_calls = itertools.count(1)


class VoicePhone:
    """One phone call, as Twilio would drive it: signed POSTs with one CallSid."""

    def __init__(self, app: Flask, phone: str, call_sid: str | None = None) -> None:
        self.app = app
        self.client = app.test_client()
        self.phone = phone
        self.call_sid = call_sid or f"CA{next(_calls):032x}"

    def post(self, path: str, signed: bool = True, token: str | None = None, **fields: str):
        """POST a webhook; `token`: Twilio's I-Twilio-Idempotency-Token (the same on a retry
        or a replay of the same request)."""
        params = {
            "CallSid": self.call_sid,
            "AccountSid": self.app.config["TWILIO_ACCOUNT_SID"],
            "From": self.phone,
            "To": self.app.config["TWILIO_PHONE_NUMBER"],
            "Direction": "inbound",
            "CallStatus": "in-progress",
            **fields,
        }
        headers = {"X-Twilio-Signature": sign(self.app, path, params)} if signed else {}
        if token:
            headers["I-Twilio-Idempotency-Token"] = token
        return self.client.post(path, data=params, headers=headers)

    def twiml(self, path: str, **fields: str) -> ET.Element:
        response = self.post(path, **fields)
        assert response.status_code == 200, response.data
        assert response.mimetype == "application/xml"
        root = ET.fromstring(response.data)
        assert root.tag == "Response"
        return root

    def call(self) -> ET.Element:
        return self.twiml("/voice", CallStatus="ringing")

    def say(self, text: str, confidence: str = "0.92") -> ET.Element:
        return self.twiml("/voice/gather", SpeechResult=text, Confidence=confidence)

    def press(self, digits: str) -> ET.Element:
        return self.twiml("/voice/gather", Digits=digits)

    def silence(self) -> ET.Element:
        return self.twiml("/voice/gather")

    def hang_up(self):
        return self.post("/voice/status", CallStatus="completed")


def said(root: ET.Element) -> str:
    """Everything a TwiML document says, in order."""
    return " ".join((say.text or "").strip() for say in root.iter("Say"))


def listens(root: ET.Element) -> bool:
    return root.find("Gather") is not None


def hangs_up(root: ET.Element) -> bool:
    return root.find("Hangup") is not None
