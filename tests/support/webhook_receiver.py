"""A loopback webhook receiver, as an integration's server would be: it records every POST
(headers and exact body) and answers as scripted — a status (with an optional Retry-After) or
a hang — and 200 once the script runs out. `verified()` checks each request's Standard
Webhooks signature with the `standardwebhooks` package, as a receiver would."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.support.loopback_server import LoopbackServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # None: no answer (hung until the caller gave up)
    at: float = 0.0

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class _Script:
    status: int = 200
    retry_after: str | None = None
    hang: float = 0.0


@dataclass
class WebhookReceiver(LoopbackServer):
    """`with WebhookReceiver() as receiver:`; register `receiver.url`."""

    host: str = "127.0.0.1"
    requests: list[Received] = field(default_factory=list)

    thread_name = "webhook-receiver"

    def __post_init__(self) -> None:
        self._init_loopback()

    @property
    def url(self) -> str:
        return self.root_url + "/hooks"

    def answer_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self._lock:
            self._script.extend(_Script(status, retry_after) for _ in range(times))

    def hang_next(self, seconds: float, times: int = 1) -> None:
        """Hold the next requests `seconds` before answering 200 (a worker may die meanwhile)."""
        with self._lock:
            self._script.extend(_Script(200, hang=seconds) for _ in range(times))

    def reset(self) -> None:
        """Forget what was received and what was scripted."""
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def delivered(self) -> list[Received]:
        """The requests answered with a 2xx: what the integration accepted."""
        with self._lock:
            return [r for r in self.requests if r.answered and 200 <= r.answered < 300]

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request's payload, each checked against its signature (raises if one fails)."""
        with self._lock:
            received = list(self.requests)
        return [Webhook(secret).verify(r.body, r.headers) for r in received]


class _Handler(BaseHTTPRequestHandler):
    owner: WebhookReceiver
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        record = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                          self.rfile.read(length), at=time.monotonic())
        self.owner._record(record)
        script = self.owner._next_script() or _Script()
        if script.hang and self.owner._stopping.wait(script.hang):
            return
        try:
            self.send_response(script.status)
            if script.retry_after:
                self.send_header("Retry-After", script.retry_after)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            record.answered = script.status
        except OSError:  # the sender gave up (timeout) or died
            self.close_connection = True


WebhookReceiver.handler_class = _Handler
