"""Structured logs: one JSON object per line, a request id that follows a message, and masking.

Why each piece exists:

* **One JSON object per line** (`JsonFormatter`), so a log shipper can index fields (plan_id,
  agent_id, MessageSid, request_id) without regexes. Anything passed as ``extra={...}`` becomes
  a field; an exception becomes an ``exc`` field holding the traceback.
* **A request id** (`current_request_id`) minted when a webhook arrives (or taken from a sane
  ``X-Request-ID`` header, only behind our own proxy: ``TRUST_PROXY_HEADERS``), echoed in the
  response header (gunicorn's access log reads it from there), carried in the headers of
  every Celery task published while it is set (`before_task_publish`), and restored in the
  worker (`task_prerun`). Tasks published from inside a task (run_plan → send_message) carry
  it on, so one inbound text can be followed to the outbound send. Beat-started tasks get a
  fresh id of their own.
* **Masking** (`MaskingFilter`): phone numbers and message bodies must never reach INFO-or-above
  logs. Phones anywhere in the text or in extra fields become ``***0123`` (last 4 digits);
  fields that hold a body (``body``, ``text``, ...) become ``<N chars>``. Exception text
  (tracebacks) is masked too: phones, and the values a database error quotes (SQL parameters,
  PostgreSQL's "Failing row contains (...)" and "Key (...)=(...)"), which hold bodies. The
  engines also hide SQL parameters (`db.session.make_engine`). DEBUG is left alone for a
  developer following a conversation locally.
* **Quiet HTTP clients**: twilio's ``twilio.http_client`` logs each REST call at INFO (~13 lines
  with the Account SID in the URL) and urllib3 its connections; both are kept at WARNING.

Wiring: `init_app(app)` from `create_app` (web and workers both build the Flask app), which
installs the Flask hooks, the Celery signal handlers and, outside tests, the root handler.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, request

REQUEST_ID_HEADER = "X-Request-ID"
# The Celery message header that carries the id (prefixed: Celery's own headers share the space).
TASK_HEADER = "fieldline_request_id"

_request_id: ContextVar[str | None] = ContextVar("fieldline_request_id", default=None)

# An id from outside is used only if it looks like one: it lands in logs and response headers.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{8,64}")


def new_request_id() -> str:
    """A fresh id: 32 hex characters, unique enough to find one message across all processes."""
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    """The id of the request or task this code runs for, or None outside both."""
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    """Bind `value` as the current id (None clears it). For code that starts work by itself."""
    _request_id.set(value)


# --- Masking --------------------------------------------------------------------------------

# E.164 (+13125550123) and North-American shapes ((312) 555-0123, 312.555.0123, 3125550123).
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{7,15}|(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4})(?!\w)"
)
# Secrets that appear in URL paths (the calendar feed's token, a web sign-in link's token) must
# not reach access logs: everything after /calendar/ or /login/ up to a query, a quote or the
# " HTTP/1.1" of a request line, whatever the token looks like (without ".ics", with a leading
# space, percent-encoded).
_PATH_SECRETS = re.compile(r"(/calendar/|/login/)(?:[^?#\"\s]|\s(?!HTTP/\d))*")
# What a database error quotes from the row or statement (exception text only).
_DB_ERROR_VALUES = (
    (re.compile(r"^(\s*\[parameters: ).*$", re.M), r"\1hidden]"),
    # The row may hold a multi-line body: up to the ")" that ends the DETAIL line, i.e. one
    # followed by the next "[SQL: ...]" line, a blank line or the end.
    (re.compile(r"(Failing row contains \().*?(\)\.?)(?=\n\[|\n\n|\n?\Z)", re.S),
     r"\1***\2"),
    (re.compile(r"(Key \([^)]*\)=\().*?(\))", re.M), r"\1***\2"),
)
# Loggers that would log a request's details at INFO.
QUIET_LOGGERS = ("twilio.http_client", "urllib3")

# Fields (from `extra=`) that hold a phone number or a message body.
PHONE_FIELDS = frozenset({"phone", "from_phone", "to", "from", "From", "To", "agent_phone",
                          "lead_phone", "caller", "Caller", "Called"})
BODY_FIELDS = frozenset({"body", "Body", "text", "message_body", "reply", "SpeechResult",
                         "speech", "transcript"})


def mask_phone(value: str) -> str:
    """``+13125550123`` → ``***0123``: enough to tell two agents apart, not enough to call one."""
    digits = re.sub(r"\D", "", value)
    return "***" + digits[-4:] if digits else "***"


def mask_text(text: str) -> str:
    """Mask every phone number and path secret inside free text."""
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _PATH_SECRETS.sub(_mask_path_secret, text)


def _mask_path_secret(match: re.Match[str]) -> str:
    return match.group(1) + ("***.ics" if match.group(0).endswith(".ics") else "***")


def mask_exception_text(text: str) -> str:
    """A formatted traceback with phones, path secrets and quoted database values masked."""
    for pattern, replacement in _DB_ERROR_VALUES:
        text = pattern.sub(replacement, text)
    return mask_text(text)


def _mask_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in BODY_FIELDS:
        return f"<{len(value)} chars>" if isinstance(value, str) else "<masked>"
    if key in PHONE_FIELDS:
        return mask_phone(str(value))
    if isinstance(value, str):
        return mask_text(value)
    return value


class MaskingFilter(logging.Filter):
    """Rewrites INFO-and-above records so no phone number or message body survives.

    Installed on the handler, so it covers third-party loggers too. The message is formatted
    once, masked, and stored without args (idempotent if two handlers see the same record).
    """

    def __init__(self, min_level: int = logging.INFO) -> None:
        super().__init__()
        self.min_level = min_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level or getattr(record, "_fieldline_masked", False):
            return True
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            # Keep the atoms (JsonFormatter reads them) but mask the ones that can hold secrets.
            # Masked in place: gunicorn's SafeAtoms answers "-" for absent atoms.
            atoms = record.args
            for key in ("r", "U", "q", "f"):
                if isinstance(atoms.get(key), str):
                    atoms[key] = mask_text(atoms[key])
        else:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: keep what we can, masked
                message = str(record.msg)
            record.msg = mask_text(message)
            record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                setattr(record, key, _mask_value(key, value))
        if record.exc_info or record.exc_text:
            # Formatted once here and cached where every formatter looks first (exc_text);
            # exc_info stays for handlers that want the exception object itself.
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = mask_exception_text(text.rstrip())
        record._fieldline_masked = True
        return True


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request id (or leaves the one given in extra)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


# --- Formatting ------------------------------------------------------------------------------

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "request_id", "taskName"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, then the extra fields.

    gunicorn's access log passes its atoms as the record's args; those become fields
    (method, path, status, duration_ms, ...) instead of a line to parse again.
    """

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            out.update(_access_fields(record.args))
        out["msg"] = record.getMessage()
        rid = getattr(record, "request_id", None) or current_request_id()
        if rid or "request_id" not in out:  # the access line's id comes from its atoms
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in out:
                out[key] = _jsonable(value)
        if record.exc_text:  # masked by MaskingFilter (INFO and above)
            out["exc"] = record.exc_text
        elif record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, ensure_ascii=False, default=str)


def _access_fields(atoms: dict[str, Any]) -> dict[str, Any]:
    def get(key: str) -> Any:
        value = atoms.get(key)
        return None if value in (None, "-") else value

    duration = get("D")
    return {
        "method": get("m"),
        "path": get("U"),
        "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else get("s"),
        "duration_ms": round(duration / 1000, 1) if isinstance(duration, int) else None,
        "bytes": get("B"),
        "remote": get("h"),
        "user_agent": get("a"),
        "request_id": get("{x-request-id}o"),
    }


class TextFormatter(logging.Formatter):
    """For a developer's terminal (LOG_FORMAT=text): readable, still with the request id."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def make_handler(stream: Any = None, fmt: str = "json") -> logging.Handler:
    """A stream handler with the request-id stamp, masking and the chosen formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler._fieldline = True
    return handler


def configure_logging(level: str | int = "INFO", fmt: str = "json", stream: Any = None) -> None:
    """Make the root logger write through one masked handler (replacing ours, keeping others).

    Celery's and gunicorn's loggers propagate to the root, so every process logs the same way.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        # Ours from an earlier call, or a bare stderr/stdout handler (basicConfig); a test
        # runner's capture handlers are subclasses and stay.
        if getattr(handler, "_fieldline", False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.addHandler(make_handler(stream, fmt))
    root.setLevel(level)
    # The dev server repeats gunicorn's access line; alembic announces its plugins on import.
    for noisy in ("werkzeug", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_http_clients()


def quiet_http_clients() -> None:
    """Keep the HTTP clients' request logging (URLs with the Account SID) out of INFO."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


# --- Flask ------------------------------------------------------------------------------------


def _before_request() -> None:
    # A client's own X-Request-ID would let it choose what our logs say (and pose as another
    # request); only our proxy, trusted with TRUST_PROXY_HEADERS, may set it.
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    trusted = current_app.config.get("TRUST_PROXY_HEADERS") and _SANE_ID.fullmatch(incoming)
    _request_id.set(incoming if trusted else new_request_id())


def _after_request(response: Response) -> Response:
    rid = current_request_id()
    if rid:
        response.headers[REQUEST_ID_HEADER] = rid
    return response


def _teardown_request(_exc: BaseException | None) -> None:
    # gunicorn's sync worker reuses the thread: never let one request's id leak into the next.
    _request_id.set(None)


def install_flask_hooks(app: Flask) -> None:
    """Register the request-id hooks first in line, so other hooks already log with the id."""
    if _before_request in app.before_request_funcs.get(None, []):
        return
    app.before_request_funcs.setdefault(None, []).insert(0, _before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown_request)


# --- Celery -----------------------------------------------------------------------------------


def _on_before_task_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
    rid = current_request_id()
    if rid and headers is not None and TASK_HEADER not in headers:
        headers[TASK_HEADER] = rid


def _on_task_prerun(task: Any = None, **_: Any) -> None:
    rid = None
    if task is not None:
        request_ctx = getattr(task, "request", None)
        rid = getattr(request_ctx, TASK_HEADER, None)
        if rid is None and request_ctx is not None:
            headers = getattr(request_ctx, "headers", None) or {}
            rid = headers.get(TASK_HEADER) if isinstance(headers, dict) else None
    _request_id.set(rid if isinstance(rid, str) and _SANE_ID.fullmatch(rid) else new_request_id())


def _on_task_postrun(**_: Any) -> None:
    _request_id.set(None)


def _on_setup_logging(**_: Any) -> None:
    # Connected only so Celery leaves the root logger to us (it skips its own setup when any
    # receiver is connected); configure_logging already ran in create_app.
    return None


def install_celery_signals() -> None:
    """Connect the publish/prerun/postrun handlers (idempotent: fixed dispatch uids)."""
    from celery import signals

    signals.before_task_publish.connect(_on_before_task_publish, weak=False,
                                        dispatch_uid="fieldline.request_id.publish")
    signals.task_prerun.connect(_on_task_prerun, weak=False,
                                dispatch_uid="fieldline.request_id.prerun")
    signals.task_postrun.connect(_on_task_postrun, weak=False,
                                 dispatch_uid="fieldline.request_id.postrun")


def init_app(app: Flask) -> None:
    """Everything above, for one app. Tests keep pytest's log capture unless LOG_FORMAT is set."""
    install_flask_hooks(app)
    install_celery_signals()
    quiet_http_clients()
    fmt = (app.config.get("LOG_FORMAT") or os.environ.get("LOG_FORMAT") or "").lower()
    if app.config.get("TESTING") and not fmt:
        return
    from celery import signals

    signals.setup_logging.connect(_on_setup_logging, weak=False,
                                  dispatch_uid="fieldline.logging.setup")
    level = app.config.get("LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    configure_logging(level.upper(), "text" if fmt == "text" else "json")
