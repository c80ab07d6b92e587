"""A loopback stand-in for Twilio's Messages API, for driving the real `twilio` client in tests.

It speaks the wire protocol the client uses — `POST /2010-04-01/Accounts/{Sid}/Messages.json`,
form-encoded, HTTP Basic auth, JSON answers shaped like Twilio's (201 Message resource, or an
error body with Twilio's `code`/`message`/`more_info`/`status`) — so a test exercises the real
URL building, auth, encoding and error parsing instead of a mock of them.

It also serves the Messages list, `GET .../Messages.json` with Twilio's To and From filters
and paging (PageSize, Page; newest first, `next_page_uri`), as the recovery sweep reads it to
find out whether a send cut off by a dead worker reached Twilio.

Failure modes are scripted per request, in order: `fail_next` (an HTTP status with Twilio's
error code), `hang_next` (accept, then answer only after N seconds: the client's read timeout
fires while Twilio already has the message), `drop_next` (accept, then close the connection
without an answer). Every request is in `.requests`; every message Twilio would have accepted
(and so might deliver) is in `.messages`, which is what "sent exactly once" is asserted on.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.loopback_server import LoopbackServer

MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/Messages\.json$")
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)

# Twilio's messages for the error codes the stand-in produces.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "The 'To' number is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
DEFAULT_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20500}


def num_segments(body: str) -> int:
    """SMS segments Twilio would bill: 160/153 GSM-7 characters, else 70/67 UCS-2 units."""
    single, multi = (160, 153) if set(body) <= GSM7 else (70, 67)
    units = len(body) if single == 160 else len(body.encode("utf-16-le")) // 2
    return 1 if units <= single else -(-units // multi)


class AcceptedMessage(dict):
    """The form fields of one accepted request (`m["To"]`, `m["Body"]`...), plus what Twilio
    answered (`.sid`) and the credentials it came with (`.auth`)."""

    sid: str
    auth: tuple[str, str]


@dataclass
class RecordedRequest:
    method: str
    path: str
    form: dict[str, str]
    auth: tuple[str, str] | None
    headers: dict[str, str]
    response_status: int | None = None  # None: no answer was given (dropped or still hanging)


@dataclass
class _Script:
    kind: str  # fail | hang | drop
    status: int = 0
    code: int | None = None
    message: str | None = None
    seconds: float = 0.0


@dataclass
class TwilioStandIn(LoopbackServer):
    """Start with `with TwilioStandIn() as twilio:`; point the client at `twilio.base_url`."""

    account_sid: str = "AC" + "0" * 32
    auth_token: str = "test-auth-token"
    host: str = "127.0.0.1"
    messages: list[AcceptedMessage] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)  # as the list serves them

    thread_name = "twilio-standin"

    def __post_init__(self) -> None:
        self._init_loopback()

    # --- scripting -------------------------------------------------------------------------

    def fail_next(
        self, status: int, code: int | None = None, message: str | None = None, times: int = 1
    ) -> None:
        """The next `times` requests get `status` with Twilio's error body (nothing accepted)."""
        code = code if code is not None else DEFAULT_CODES.get(status, status)
        with self._lock:
            self._script.extend(_Script("fail", status, code, message) for _ in range(times))

    def hang_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests are accepted, then answered (201) only after `seconds`."""
        with self._lock:
            self._script.extend(_Script("hang", seconds=seconds) for _ in range(times))

    def drop_next(self, times: int = 1) -> None:
        """The next `times` requests are accepted, then the connection closes without answer."""
        with self._lock:
            self._script.extend(_Script("drop") for _ in range(times))

    @property
    def base_url(self) -> str:
        return self.root_url

    # --- request handling (called from handler threads) ------------------------------------

    def _accept(self, account: str, form: dict[str, str], auth: tuple[str, str]) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True).replace("GMT", "+0000")
        service = form.get("MessagingServiceSid")
        uri = f"/2010-04-01/Accounts/{account}/Messages/{sid}.json"
        resource = {
            "account_sid": account,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(num_segments(form["Body"])),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service and not form.get("From") else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": form["To"],
            "uri": uri,
        }
        accepted = AcceptedMessage(form)
        accepted.sid = sid
        accepted.auth = auth
        with self._lock:
            self.messages.append(accepted)
            self.resources.append(resource)
        return resource

    def _list(self, account: str, query: dict[str, str]) -> dict[str, Any]:
        """One page of the Messages list, newest first, filtered by To and From."""
        with self._lock:
            found = [r for r in reversed(self.resources)
                     if (not query.get("To") or r["to"] == query["To"])
                     and (not query.get("From") or r["from"] == query["From"])]
        size = max(1, min(1000, int(query.get("PageSize") or 50)))
        page = int(query.get("Page") or 0)
        uri = f"/2010-04-01/Accounts/{account}/Messages.json"

        def page_uri(number: int) -> str:
            return uri + "?" + urlencode({**query, "PageSize": size, "Page": number})

        more = len(found) > (page + 1) * size
        return {
            "messages": found[page * size:(page + 1) * size],
            "page": page, "page_size": size, "start": page * size,
            "end": min(len(found), (page + 1) * size) - 1,
            "uri": page_uri(page), "first_page_uri": page_uri(0),
            "previous_page_uri": page_uri(page - 1) if page else None,
            "next_page_uri": page_uri(page + 1) if more else None,
        }


def error_body(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """Twilio's error JSON (the legacy shape the REST API still answers with)."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    owner: TwilioStandIn
    protocol_version = "HTTP/1.1"  # keep-alive, like api.twilio.com: the client pools sockets
    server_version = "twilio-standin"
    disable_nagle_algorithm = True  # else each two-packet reply waits ~40 ms for a delayed ACK

    def log_message(self, format: str, *args: Any) -> None:  # quiet tests
        pass

    def _send_json(self, status: int, payload: dict[str, Any], record: RecordedRequest) -> None:
        data = json.dumps(payload).encode()
        record.response_status = status
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client went away (e.g. after its read timeout)
            self.close_connection = True

    def _fail(self, status: int, code: int, record: RecordedRequest, message: str | None = None):
        self._send_json(status, error_body(status, code, message), record)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        auth = self._auth()
        record = RecordedRequest("GET", parts.path, query, auth, dict(self.headers))
        self.owner._record(record)
        owner = self.owner
        if auth != (owner.account_sid, owner.auth_token):
            self._fail(401, 20003, record)
            return
        match = MESSAGES_PATH.match(parts.path)
        if match is None or match["account"] != owner.account_sid:
            self._fail(404, 20404, record)
            return
        script = owner._next_script()
        if script is not None and script.kind == "fail":
            self._fail(script.status, script.code or script.status, record, script.message)
            return
        self._send_json(200, owner._list(owner.account_sid, query), record)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        form = {key: values[-1] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        auth = self._auth()
        path = urlsplit(self.path).path
        record = RecordedRequest("POST", path, form, auth, dict(self.headers))
        self.owner._record(record)

        owner = self.owner
        if auth != (owner.account_sid, owner.auth_token):
            self._fail(401, 20003, record)
            return
        match = MESSAGES_PATH.match(path)
        if match is None or match["account"] != owner.account_sid:
            self._fail(404, 20404, record)
            return
        script = owner._next_script()
        if script is not None and script.kind == "fail":
            self._fail(script.status, script.code or script.status, record, script.message)
            return
        problem = _validate(form)
        if problem is not None:
            status, code, message = problem
            self._fail(status, code, record, message)
            return
        resource = owner._accept(owner.account_sid, form, auth)
        if script is not None and script.kind == "drop":
            self.close_connection = True  # handler returns without a byte: the socket closes
            return
        if script is not None and script.kind == "hang":
            owner._stopping.wait(script.seconds)
        self._send_json(201, resource, record)

    def _auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return user, password


def _validate(form: dict[str, str]) -> tuple[int, int, str | None] | None:
    """Twilio's checks on a create-Message request, in Twilio's order."""
    to = form.get("To", "")
    if not to:
        return 400, 21604, None
    if not (form.get("From") or form.get("MessagingServiceSid")):
        return 400, 21603, None
    if not form.get("Body") and not form.get("MediaUrl"):
        return 400, 21602, None
    if not E164.match(to):
        return 400, 21211, f"The 'To' number {to} is not a valid phone number."
    if len(form.get("Body", "")) > 1600:
        return 400, 21617, None
    return None


TwilioStandIn.handler_class = _Handler
