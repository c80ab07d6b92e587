"""The shipped server config (gunicorn.conf.py) as production runs it: a real gunicorn with a
preloaded app and forked workers, answering over a real socket.

What only a real server shows: a 50 MB body (declared, or streamed chunked) is refused with 413
without being read; the `Server` header names no version; the access log never shows a calendar
token, whatever its shape; a client's X-Request-ID is not taken; forked workers open their own
connections and serve webhooks; production serves no simulator files.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from db import migrate
from tests.support.service_processes import BIN, ProcessGroups, free_port, service_env
from tests.support.settings import AGENT_PHONE, TEST_REDIS_URL, TEST_SETTINGS
from tests.support.twilio_standin import TwilioStandIn

PUBLIC = "https://fieldline.gunicorn.test"


class Server:
    def __init__(self, port: int, processes: ProcessGroups) -> None:
        self.port = port
        self.processes = processes

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        connection.close()
        return response

    def log(self) -> str:
        return self.processes.logs(tail=2_000_000, pattern="gunicorn.log")


@pytest.fixture
def server(tmp_path: Path, twilio_standin: TwilioStandIn) -> Iterator[Server]:
    database_url = "sqlite:///" + str(tmp_path / "web.sqlite3")
    migrate.upgrade(database_url)
    _add_agent(database_url)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    port = free_port()
    env = service_env(database_url, TEST_REDIS_URL, twilio_standin,
                      TEST_SETTINGS["TWILIO_PHONE_NUMBER"], metrics, APP_ENV="production",
                      PUBLIC_BASE_URL=PUBLIC, SECRET_KEY="gunicorn-test", LOG_LEVEL="INFO",
                      BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
    processes = ProcessGroups(env, tmp_path)
    processes.start("gunicorn", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline or not processes.alive("gunicorn"):
                raise AssertionError("gunicorn did not start:\n" + processes.logs()) from None
            time.sleep(0.1)
    try:
        yield Server(port, processes)
    finally:
        processes.stop_all()


def _add_agent(database_url: str) -> None:
    from db.models import User
    from db.session import Database

    db = Database(database_url)
    with db.session() as session:
        session.add(User(name="Alex Rivera", phone=AGENT_PHONE, timezone="America/Chicago"))
        session.commit()
    db.dispose()


def _signed_sms(body: str, sid: str) -> tuple[bytes, dict[str, str]]:
    params = {"MessageSid": sid, "AccountSid": TEST_SETTINGS["TWILIO_ACCOUNT_SID"],
              "From": AGENT_PHONE, "To": TEST_SETTINGS["TWILIO_PHONE_NUMBER"], "Body": body}
    signature = RequestValidator(TEST_SETTINGS["TWILIO_AUTH_TOKEN"]).compute_signature(
        PUBLIC + "/sms", params)
    return urlencode(params).encode(), {
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}


@pytest.mark.integration
def test_forked_workers_serve_signed_webhooks_with_their_own_connections(server: Server) -> None:
    for n in range(6):  # both workers, each with the database and Redis after the fork
        body, headers = _signed_sms("HELP", f"SMgunicorn{n:04d}")
        response = server.request("POST", "/sms", body, headers)
        assert response.status == 200, response.body
        assert b"<Response><Message>" in response.body
    assert "Traceback" not in server.log()


@pytest.mark.integration
def test_headers_no_server_version_and_no_simulator_files(server: Server) -> None:
    response = server.request("GET", "/healthz")
    assert response.status == 200
    assert response.getheader("Server") in (None, "gunicorn")  # never "gunicorn/23.0.0"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Referrer-Policy") == "no-referrer"
    page = server.request("GET", "/no-such-page")
    assert "frame-ancestors 'none'" in page.getheader("Content-Security-Policy")
    for path in ("/static/simulator.js", "/static/simulator.css",
                 "/simulator/static/simulator.js", "/simulator/static/simulator.css"):
        assert server.request("GET", path).status == 404, path


@pytest.mark.integration
def test_a_declared_50_mb_body_is_refused_before_it_is_sent(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /sms HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: forged\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: 52428800\r\n\r\n" + b"a" * 1024)
        started = time.monotonic()
        answer = sock.recv(4096)  # not one more byte of the body is needed for the answer
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5


@pytest.mark.integration
def test_a_chunked_body_is_cut_off_at_the_cap_not_read_to_its_end(server: Server) -> None:
    chunk = b"a" * 16384
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /sms HTTP/1.1\r\nHost: x\r\nX-Twilio-Signature: forged\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        sock.setblocking(False)
        deadline = time.monotonic() + 20
        while sent < 50 * 1024 * 1024 and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                try:
                    answer = sock.recv(4096)
                except OSError:
                    answer = b""
                break
            if writable:
                try:
                    sent += sock.send(framed)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:  # the server closed: read what it said
                    sock.setblocking(True)
                    answer = sock.recv(4096)
                    break
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 16 * 1024 * 1024  # far from 50 MB: the server stopped at the cap


@pytest.mark.integration
def test_the_access_log_never_shows_a_calendar_token_or_takes_a_client_request_id(
        server: Server) -> None:
    for path in ("/calendar/s3cr3tTOKENa.ics", "/calendar/s3cr3tTOKENb",
                 "/calendar/%20s3cr3tTOKENc.ics", "/calendar/s3cr3tTOKENd.ics?x=1"):
        assert server.request("GET", path).status == 404
    response = server.request("GET", "/healthz", headers={"X-Request-ID": "chosen-by-client-1"})
    assert response.getheader("X-Request-ID") != "chosen-by-client-1"

    deadline = time.monotonic() + 5
    while server.log().count("/calendar/***") < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = server.log()
    assert log.count("/calendar/***") >= 4, log[-3000:]
    assert "s3cr3tTOKEN" not in log and "chosen-by-client-1" not in log
    access = [json.loads(line) for line in log.splitlines()
              if line.startswith("{") and '"gunicorn.access"' in line]
    assert access and all(line["request_id"] for line in access)
