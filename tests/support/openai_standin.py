"""A loopback stand-in for OpenAI's Chat Completions API, for driving the real `openai` client.

It speaks the wire protocol the SDK uses — `POST /v1/chat/completions`, JSON in, Bearer auth,
a `chat.completion` object out (choices[0].message.tool_calls, usage), or an error body shaped
like OpenAI's (`{"error": {"message", "type", "param", "code"}}`) — so a test exercises the
SDK's real request building, timeout, retry policy and error mapping instead of a mock of them.

Answers are scripted per request, in order (an unscripted request gets a 500 naming itself, so
a test that did not expect the model to be called fails loudly):

- `reply_tool_call(arguments)`: a tool call to `propose_plan` with these arguments (a dict is
  JSON-encoded; a str is sent as is, which is how a test sends malformed JSON);
- `reply_draft(subject, body)`: a tool call to `write_email_draft` (the email-draft writer),
  or `reply_tool_call(arguments, tool=DRAFT_TOOL)` for any other arguments;
- `reply_text(content)`: an assistant message without a tool call;
- `fail_next(status)`: an HTTP error (429 comes with `retry-after: 0`);
- `hang_next(seconds)`: read the request, then answer only after `seconds` (or at stop()).

Every request is recorded in `.requests` (path, JSON body, headers) — what "the model was not
called" is asserted on.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback_server import LoopbackServer

TOOL_NAME = "propose_plan"
DRAFT_TOOL = "write_email_draft"
ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    response_status: int | None = None  # None: no answer was given (still hanging at stop)


@dataclass
class _Script:
    kind: str  # tool | text | fail | hang
    payload: Any = None
    status: int = 200
    seconds: float = 0.0
    usage: tuple[int, int] = (120, 30)
    tool: str = TOOL_NAME


@dataclass
class OpenAIStandIn(LoopbackServer):
    """Start with `with OpenAIStandIn() as model:`; point the client at `model.base_url`."""

    api_key: str = "sk-test-standin"
    host: str = "127.0.0.1"
    requests: list[RecordedRequest] = field(default_factory=list)

    thread_name = "openai-standin"

    def __post_init__(self) -> None:
        self._init_loopback()

    # --- scripting -------------------------------------------------------------------------

    def reply_tool_call(self, arguments: dict | str, *, usage: tuple[int, int] = (120, 30),
                        times: int = 1, tool: str = TOOL_NAME) -> None:
        """The next `times` requests get one call of `tool` (`propose_plan`) with `arguments`."""
        with self._lock:
            self._script.extend(_Script("tool", arguments, usage=usage, tool=tool)
                                for _ in range(times))

    def reply_draft(self, subject: str, body: str, times: int = 1) -> None:
        """The next `times` requests get a `write_email_draft` call with this draft."""
        self.reply_tool_call({"subject": subject, "body": body}, times=times, tool=DRAFT_TOOL)

    def reply_text(self, content: str, times: int = 1) -> None:
        """The next `times` requests get a plain assistant message (no tool call)."""
        with self._lock:
            self._script.extend(_Script("text", content) for _ in range(times))

    def fail_next(self, status: int, times: int = 1, message: str | None = None) -> None:
        """The next `times` requests get HTTP `status` with OpenAI's error body."""
        with self._lock:
            self._script.extend(_Script("fail", message, status=status) for _ in range(times))

    def hang_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests are read, then answered only after `seconds`."""
        with self._lock:
            self._script.extend(_Script("hang", seconds=seconds) for _ in range(times))

    @property
    def completions(self) -> list[RecordedRequest]:
        """The chat-completion requests received so far."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL would be set to (the SDK appends /chat/completions)."""
        return self.root_url + "/v1"

    # --- answering (called from handler threads) -------------------------------------------

    def _completion(self, body: dict, message: dict, finish: str,
                    usage: tuple[int, int]) -> dict:
        prompt, completion = usage
        return {
            "id": "chatcmpl-" + secrets.token_hex(12),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt-4o-mini"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
            "system_fingerprint": "fp_standin",
        }

    def _tool_message(self, arguments: dict | str, tool: str = TOOL_NAME) -> dict:
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": "call_" + secrets.token_hex(8),
                    "type": "function",
                    "function": {"name": tool, "arguments": raw},
                }
            ],
        }


def _error_body(status: int, message: str | None) -> dict:
    kind, code = ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message or f"stand-in error {status}", "type": kind,
                      "param": None, "code": code}}


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIStandIn
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        return  # keep test output clean

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        record = RecordedRequest("POST", self.path, body,
                                {k.lower(): v for k, v in self.headers.items()})
        owner._record(record)
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(record, 404, _error_body(404, f"no route {self.path}"))
        if self.headers.get("Authorization") != f"Bearer {owner.api_key}":
            return self._send(record, 401, _error_body(401, "Incorrect API key provided"))
        script = owner._next_script()
        if script is None:
            return self._send(record, 500, _error_body(500, "unscripted request to stand-in"))
        if script.kind == "hang":
            if owner._stopping.wait(script.seconds):
                return  # stopping: give no answer
            message = {"role": "assistant", "content": "late", "refusal": None}
            return self._send(record, 200, owner._completion(body, message, "stop", (1, 1)))
        if script.kind == "fail":
            headers = {"retry-after": "0"} if script.status == 429 else {}
            return self._send(record, script.status, _error_body(script.status, script.payload),
                              headers)
        if script.kind == "text":
            message = {"role": "assistant", "content": script.payload, "refusal": None}
            return self._send(record, 200,
                              owner._completion(body, message, "stop", script.usage))
        message = owner._tool_message(script.payload, script.tool)
        return self._send(record, 200,
                          owner._completion(body, message, "tool_calls", script.usage))

    def _send(self, record: RecordedRequest, status: int, payload: dict,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        record.response_status = status  # before the client can see the answer
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", "req_" + secrets.token_hex(6))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            record.response_status = None  # the client gave up (its timeout): not answered


OpenAIStandIn.handler_class = _Handler
