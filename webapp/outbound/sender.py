"""Sending one SMS, with every way it can end sorted into what the caller must do next.

The outbound worker must never send a text twice and never lose one silently, so the sender's
job is to say precisely what is known after a send attempt:

* `SendResult`: the provider accepted it (its sid is the handle for status callbacks);
* `RetryableSendError`: it was certainly not accepted and trying again later may work
  (429, 5xx, no connection could be made);
* `RecipientOptedOut` / `PermanentSendError`: it was refused and retrying cannot help;
* `SendOutcomeUnknown`: the request went out but no answer came back (read timeout, dropped
  connection). Twilio may well have accepted it, so it must not be sent again automatically.

`TwilioSender` uses the real `twilio` client (so URL building, auth, encoding and error parsing
are Twilio's own), pointed at `TWILIO_API_BASE_URL` so tests and staging reach a stand-in.

`sent_matching` answers the question a worker killed mid-send leaves open (did Twilio get it?)
from Twilio's own Messages list; the recovery sweep asks it (webapp.outbound.messages).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from webapp.config import ConfigError
from webapp.ops import counters

log = logging.getLogger(__name__)

OPTED_OUT = 21610  # Twilio: "Attempt to send to unsubscribed recipient" (also on callbacks)
DEFAULT_API_BASE_URL = "https://api.twilio.com"
# How many of the latest messages to one number a lookup reads (newest first, 50 a page).
LOOKUP_LIMIT = 200


@dataclass(frozen=True)
class SendResult:
    sid: str
    status: str  # the provider's status at acceptance ("queued", "accepted"), or "simulated"


class SendError(Exception):
    """A send that did not end in a known acceptance.

    `code` is Twilio's error code when it gave one, else a short token for what happened
    (stored in `messages.error_code`, which is why it stays short); `http_status` is the HTTP
    status when an answer came back.
    """

    def __init__(self, reason: str, *, code: str | None = None, http_status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.http_status = http_status


class RetryableSendError(SendError):
    """Certainly not accepted (429, 5xx, no connection); a later attempt may succeed."""


class PermanentSendError(SendError):
    """Refused by the provider (4xx); the same request will be refused again."""


class RecipientOptedOut(PermanentSendError):
    """Twilio 21610: the recipient texted STOP; nothing may be sent until they text START."""


class SendOutcomeUnknown(SendError):
    """The request went out but no answer came back: it may have been accepted."""


class Sender(Protocol):
    def send(self, to: str, body: str) -> SendResult: ...

    def sent_matching(self, to: str, body: str, since: datetime) -> list[str]: ...


class TwilioSender:
    """Sends through Twilio's Messages API with the official client and an explicit timeout."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str = DEFAULT_API_BASE_URL,
        timeout: float = 5.0,
        status_callback: str | None = None,
    ) -> None:
        if not (account_sid and auth_token and from_number):
            raise ConfigError(
                "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER are needed to send"
            )
        if timeout <= 0:
            raise ConfigError("TWILIO_TIMEOUT must be positive")
        self.from_number = from_number
        self.status_callback = status_callback or None
        self.timeout = timeout
        # `environment` is given (non-empty) so the client does not read TWILIO_EDGE or
        # TWILIO_REGION from os.environ: those rewrite the host name and would send the request
        # somewhere other than `base_url`.
        self.client = Client(
            account_sid,
            auth_token,
            http_client=TwilioHttpClient(timeout=timeout),
            environment={"TWILIO_ACCOUNT_SID": account_sid},
        )
        # twilio 9.x builds every API URL as `client.api.base_url + uri` at request time
        # (twilio.base.domain.Domain.absolute_url); the default is https://api.twilio.com.
        self.client.api.base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str:
        return self.client.api.base_url

    def send(self, to: str, body: str) -> SendResult:
        """POST one message; classify every failure (see the module docstring)."""
        try:
            message = self.client.messages.create(
                to=to,
                from_=self.from_number,
                body=body,
                status_callback=self.status_callback,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _classify_rejection(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _classify_transport(exc) from exc
        if not message.sid:
            raise SendOutcomeUnknown("accepted without a sid", code="no_sid", http_status=201)
        return SendResult(sid=message.sid, status=message.status or "queued")

    def sent_matching(self, to: str, body: str, since: datetime) -> list[str]:
        """Sids of messages Twilio accepted from our number to `to` with exactly `body`,
        created at or after `since`, newest first, from its Messages list.

        Filtered by To and From on Twilio's side; the date window is applied here on
        `date_created`, not with Twilio's DateSent filter: a message Twilio accepted but still
        holds in its queue has no DateSent yet, and must be found too. Raises `SendError` (or
        the transport's error) when Twilio cannot be asked."""
        try:
            listed = self.client.messages.list(to=to, from_=self.from_number,
                                               limit=LOOKUP_LIMIT, page_size=50)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _classify_rejection(exc) from exc
        return [
            message.sid for message in listed
            if message.body == body
            and (message.direction or "").startswith("outbound")
            and message.date_created is not None and message.date_created >= since
        ]


def _classify_rejection(exc: TwilioRestException | TwilioServiceException) -> SendError:
    status = int(exc.status)
    code = str(exc.code) if exc.code is not None else str(status)
    reason = f"HTTP {status}, Twilio error {code}"
    counters.count_twilio_error(code)
    if status == 429 or status >= 500:
        return RetryableSendError(reason, code=code, http_status=status)
    if exc.code is not None and int(exc.code) == OPTED_OUT:
        return RecipientOptedOut(reason, code=code, http_status=status)
    return PermanentSendError(reason, code=code, http_status=status)


def _classify_transport(exc: requests.exceptions.RequestException) -> SendError:
    """Retryable only when no connection was ever made, so no request can have gone out."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return RetryableSendError(f"connect timeout: {exc}", code="connect_timeout")
    if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(
        exc, requests.exceptions.SSLError
    ):
        cause = exc.args[0] if exc.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        if isinstance(cause, NewConnectionError | ConnectTimeoutError):
            return RetryableSendError(f"could not connect: {cause}", code="connect_failed")
        return SendOutcomeUnknown(f"connection lost after sending: {exc}", code="conn_dropped")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return SendOutcomeUnknown(f"no answer in time: {exc}", code="read_timeout")
    # SSL errors, invalid URLs, etc.: cannot tell whether the request went out.
    return SendOutcomeUnknown(f"{type(exc).__name__}: {exc}", code="transport_error")


class RecordingSender:
    """Local development without Twilio: pretends to send and says so ("simulated").

    It stores nothing itself; the `messages` row the worker updates is the record. The text is
    logged at DEBUG so a developer can follow it without a phone.
    """

    def send(self, to: str, body: str) -> SendResult:
        sid = "SIM" + secrets.token_hex(16)
        log.debug("simulated SMS %s to %s: %s", sid, to, body)
        return SendResult(sid=sid, status="simulated")

    def sent_matching(self, to: str, body: str, since: datetime) -> list[str]:
        """Nothing recorded leaves the machine, so nothing can be found: send it (again)."""
        return []


SENDER_CHOICES = ("", "twilio", "recording")


def sender_from_config(config: Mapping[str, Any]) -> Sender:
    """The sender the settings ask for.

    `SMS_SENDER` may force `twilio` or `recording`. Left empty: Twilio when the account
    credentials are set — except under `APP_ENV=testing`, whose settings carry fake
    credentials, so a test never reaches the real api.twilio.com unless it asks for
    `SMS_SENDER=twilio` (and points `TWILIO_API_BASE_URL` at a stand-in). The recording sender
    is refused outside development and testing: in production it would swallow every text.
    """
    choice = (config.get("SMS_SENDER") or "").strip().lower()
    if choice not in SENDER_CHOICES:
        raise ConfigError(f"SMS_SENDER must be 'twilio', 'recording' or empty, got {choice!r}")
    env = config.get("APP_ENV", "development")
    has_credentials = bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN"))
    if choice == "twilio" or (choice == "" and has_credentials and env != "testing"):
        public = (config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        return TwilioSender(
            account_sid=config.get("TWILIO_ACCOUNT_SID", ""),
            auth_token=config.get("TWILIO_AUTH_TOKEN", ""),
            from_number=config.get("TWILIO_PHONE_NUMBER", ""),
            base_url=config.get("TWILIO_API_BASE_URL") or DEFAULT_API_BASE_URL,
            timeout=float(config.get("TWILIO_TIMEOUT") or 5.0),
            status_callback=f"{public}/sms/status" if public else None,
        )
    if env in ("development", "testing"):
        return RecordingSender()
    raise ConfigError(
        "Cannot send SMS: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN "
        "(the recording sender is only for development and testing)"
    )
