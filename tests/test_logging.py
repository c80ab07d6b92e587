"""JSON logs: one object per line, the request id from webhook to task, phones and bodies masked."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from celery import shared_task
from flask import Flask

from tests.support.settings import AGENT_LEADS, AGENT_PHONE
from tests.support.waiting import wait_for
from webapp.ops import logs
from webapp.ops.logs import current_request_id, make_handler, mask_text

task_log = logging.getLogger("tests.task")

E164 = re.compile(r"\+\d{10,15}")


@shared_task(name="tests.test_logging.log_and_pass_on")
def log_and_pass_on() -> None:
    """A task that logs (with a phone and a body) and publishes a second one, like run_plan."""
    task_log.info("task ran for %s", "+13125550123", extra={"body": "call me back"})
    log_only.apply_async(retry=False)


@shared_task(name="tests.test_logging.log_only")
def log_only() -> None:
    task_log.info("second task ran")


class Capture:
    """The production handler (JSON, request id, masking) writing to memory, on the root."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.stream = io.StringIO()
        self.handler = make_handler(self.stream)
        self.level = level

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def capture() -> Iterator[Capture]:
    """Request it after `celery_worker`: starting a worker resets the root logger's level."""
    root = logging.getLogger()
    cap = Capture()
    names = ("", "tests", "webapp", "workers", "db", "celery")
    old = {name: logging.getLogger(name).level for name in names}
    root.addHandler(cap.handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.INFO)
    yield cap
    root.removeHandler(cap.handler)
    for name, level in old.items():
        logging.getLogger(name).setLevel(level)


def test_each_line_is_one_json_object_with_fields(capture: Capture) -> None:
    log = logging.getLogger("tests.fields")
    log.info("plan confirmed", extra={"plan_id": "p1", "agent_id": 7, "sid": "SM" + "a" * 32})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed", extra={"plan_id": "p1"})
    first, second = capture.lines()
    assert first["msg"] == "plan confirmed" and first["level"] == "INFO"
    assert first["plan_id"] == "p1" and first["agent_id"] == 7 and first["sid"] == "SM" + "a" * 32
    assert first["logger"] == "tests.fields" and first["ts"].endswith("+00:00")
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exc"]


def test_phones_and_bodies_are_masked_at_info(capture: Capture) -> None:
    log = logging.getLogger("tests.masking")
    log.info("text from %s to (312) 555-0124", "+13125550123",
             extra={"body": "Mark Sarah as lost", "phone": "+17735550127", "to": "+13125550126"})
    log.debug("debug keeps %s", "+13125550199")  # below INFO: a developer's local detail
    (line,) = capture.lines()  # the handler's level lets only INFO through: the root is at INFO
    assert line["msg"] == "text from ***0123 to ***0124"
    assert line["body"] == "<18 chars>"
    assert line["phone"] == "***0127" and line["to"] == "***0126"
    assert not E164.search(capture.text())


def test_masking_leaves_ids_and_times_alone() -> None:
    text = "SM0123456789abcdef0123456789abcdef at 2026-03-05T15:00:00 plan 42 id 1234567"
    assert mask_text(text) == text
    assert mask_text("GET /calendar/abcDEF123_-x.ics") == "GET /calendar/***.ics"


@pytest.mark.parametrize("path", [
    "/calendar/s3cr3tTOKEN",  # without .ics
    "/calendar/ s3cr3tTOKEN.ics",  # a leading space (the path as gunicorn's U atom has it)
    "/calendar/%20s3cr3tTOKEN.ics",  # as the request line has it
    "/calendar/s3cr3tTOKEN.ics/extra",
])
def test_a_calendar_token_in_any_shape_is_masked(path: str) -> None:
    masked = mask_text(f'GET {path} HTTP/1.1')
    assert "s3cr3tTOKEN" not in masked and masked.startswith("GET /calendar/***")
    assert masked.endswith(" HTTP/1.1")
    assert "s3cr3tTOKEN" not in mask_text(path)


def test_exception_text_is_masked(capture: Capture) -> None:
    try:
        raise ValueError("could not text +13125550123 at (312) 555-0124")
    except ValueError:
        logging.getLogger("tests.exc").warning("send failed", exc_info=True)
    (line,) = capture.lines()
    assert "ValueError" in line["exc"] and "***0123" in line["exc"]
    assert not E164.search(line["exc"]) and "555-0124" not in line["exc"]


def test_a_database_errors_traceback_carries_no_phone_or_message_text(
        db, capture: Capture) -> None:
    """The review's leak: a failed insert's traceback listed the SQL parameters (phone and
    body); PostgreSQL also quotes the failing row and duplicate keys."""
    from sqlalchemy import insert
    from sqlalchemy.exc import SQLAlchemyError

    from db.models import Message

    body = "Call Sarah about the Elm Street contract (she said yes)\nand the deposit"
    log = logging.getLogger("tests.db_error")
    statements = [
        insert(Message).values(direction="sideways", phone="+13125550123", body=body,
                               status="received"),  # a CHECK: PostgreSQL quotes the row
        insert(Message).values(provider_sid="+13125550123" + body[:30], direction="inbound",
                               phone="+13125550123", body=body, status="received"),
    ]
    for statement in statements + statements[1:]:  # the last one again: a duplicate key
        try:
            with db.engine.begin() as connection:
                connection.execute(statement)
        except SQLAlchemyError:
            log.warning("could not record a message", exc_info=True)
    if db.is_postgresql:
        try:
            db.write_log_row(statements[1], {})  # the driver path quotes its parameters too
        except SQLAlchemyError:
            log.warning("could not record a message", exc_info=True)

    text = capture.text()
    assert text.count('"exc"') >= 2
    assert "+13125550123" not in text and "3125550123" not in text
    assert "Elm Street" not in text and "deposit" not in text


def test_a_request_carries_one_id_into_its_log_lines(app: Flask, capture: Capture) -> None:

    @app.get("/_log_something")
    def log_something() -> str:
        logging.getLogger("tests.web").info("inside the request")
        return current_request_id() or ""

    client = app.test_client()
    response = client.get("/_log_something")
    rid = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid) and response.get_data(as_text=True) == rid
    (line,) = [x for x in capture.lines() if x["logger"] == "tests.web"]
    assert line["request_id"] == rid

    assert current_request_id() is None  # nothing leaks out of the request


def test_a_clients_request_id_is_ignored_unless_the_proxy_is_trusted(app: Flask) -> None:
    """Any client could otherwise choose what our logs say about its request."""

    @app.get("/_rid")
    def rid() -> str:
        return current_request_id() or ""

    client = app.test_client()
    given = client.get("/_rid", headers={"X-Request-ID": "chosen-by-client-1234"})
    assert given.headers["X-Request-ID"] != "chosen-by-client-1234"
    assert re.fullmatch(r"[0-9a-f]{32}", given.get_data(as_text=True))

    app.config["TRUST_PROXY_HEADERS"] = True  # behind our own proxy (what the factory reads)
    trusted = client.get("/_rid", headers={"X-Request-ID": "proxy-id-12345678"})
    assert trusted.headers["X-Request-ID"] == "proxy-id-12345678"
    junk = client.get("/_rid", headers={"X-Request-ID": "<script>"})
    assert junk.headers["X-Request-ID"] != "<script>"


@pytest.mark.integration
def test_request_id_follows_into_tasks(app: Flask, celery_worker, capture: Capture) -> None:

    @app.post("/_queue_something")
    def queue_something() -> str:
        logging.getLogger("tests.web").info("queueing")
        log_and_pass_on.apply_async(retry=False)
        return current_request_id() or ""

    rid = app.test_client().post("/_queue_something").get_data(as_text=True)

    def task_lines() -> list[dict]:
        lines = [x for x in capture.lines() if x["logger"] == "tests.task"]
        return lines if len(lines) == 2 else []

    first, second = wait_for(task_lines)
    assert first["request_id"] == rid and second["request_id"] == rid
    assert first["msg"] == "task ran for ***0123" and first["body"] == "<12 chars>"


def test_prerun_without_a_header_starts_a_fresh_id() -> None:
    class Request:
        pass

    class Task:
        request = Request()

    logs._on_task_prerun(task=Task())
    first = current_request_id()
    logs._on_task_postrun()
    assert first and current_request_id() is None
    headers: dict = {}
    logs.set_request_id("abcdef0123456789")
    logs._on_before_task_publish(headers=headers)
    logs.set_request_id(None)
    assert headers == {logs.TASK_HEADER: "abcdef0123456789"}


@pytest.mark.integration
def test_no_phone_or_body_at_info_through_a_whole_conversation(
    app: Flask, capture: Capture, celery_worker, phone
) -> None:
    """Inbound text, plan, YES, the worker runs it and sends the result: nothing leaks.

    `capture` comes before the worker here so Celery's own INFO lines (task received,
    succeeded: they carry task arguments) are enabled when its tracer is built.
    """
    root = logging.getLogger()
    root.setLevel(logging.INFO)  # starting the worker lowered it ...
    if capture.handler not in root.handlers:  # ... and took the root's handlers away
        root.addHandler(capture.handler)
    from sqlalchemy import select

    from db.models import Message
    from webapp.database import get_db

    phone.text("Called Dana Cole, no answer, she wants the Elm Street listing")
    phone.text("YES")

    def result_sent() -> bool:
        with get_db(app).session() as session:
            statuses = session.scalars(
                select(Message.status).where(Message.direction == "outbound",
                                             Message.status.in_(("sent", "simulated")))
            ).all()
        return bool(statuses)

    wait_for(result_sent)
    text = capture.text()
    assert text, "the conversation logged nothing at INFO; the check would prove nothing"
    for number in [AGENT_PHONE] + [p for _, p, _ in AGENT_LEADS]:
        assert number not in text and number[2:] not in text
    assert "Elm Street" not in text
    lines = capture.lines()
    assert any("succeeded" in line["msg"] for line in lines)  # the worker's lines are in too
    for line in lines:
        assert line["level"] != "DEBUG"


def test_gunicorn_access_line_becomes_fields_with_the_request_id() -> None:
    """gunicorn passes its atoms as the record's args (gunicorn.glogging.Logger.access)."""
    from gunicorn.glogging import SafeAtoms

    stream = io.StringIO()
    handler = make_handler(stream)
    log = logging.getLogger("gunicorn.access")
    log.addHandler(handler)
    log.propagate, old_propagate = False, log.propagate
    log.setLevel(logging.INFO)
    try:
        atoms = SafeAtoms({"h": "10.0.0.1", "m": "GET", "U": "/calendar/s3cr3t-token.ics",
                           "s": "200", "B": 512, "D": 12345, "M": 12, "a": "curl",
                           "{x-request-id}o": "abc123def4567890"})
        log.info('%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s', atoms)
    finally:
        log.removeHandler(handler)
        log.propagate = old_propagate
    line = json.loads(stream.getvalue())
    assert line["request_id"] == "abc123def4567890"
    assert line["path"] == "/calendar/***.ics" and "s3cr3t" not in stream.getvalue()
    assert line["status"] == 200 and line["duration_ms"] == 12.3 and line["method"] == "GET"


def test_a_twilio_send_logs_no_http_client_lines_at_info(app: Flask, twilio_standin,
                                                         capture: Capture) -> None:
    """twilio's HTTP client logs each request at INFO (~13 lines, the Account SID in the URL);
    the app keeps it, and urllib3, at WARNING."""
    from webapp.outbound.sender import TwilioSender

    sender = TwilioSender(app.config["TWILIO_ACCOUNT_SID"], app.config["TWILIO_AUTH_TOKEN"],
                          app.config["TWILIO_PHONE_NUMBER"], base_url=twilio_standin.base_url)
    sender.send("+13125550100", "Done!")

    assert len(twilio_standin.messages) == 1
    noisy = [line for line in capture.lines()
             if line["logger"].startswith(("twilio", "urllib3"))]
    assert noisy == []
    assert app.config["TWILIO_ACCOUNT_SID"] not in capture.text()
