"""Request-body cap and security headers (webapp/ops/security_headers.py), in-process.

The same through a real gunicorn with the shipped config is in tests/system/test_gunicorn.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

from db.models import Message
from tests.support.databases import rows
from tests.support.sms import sign
from webapp.channels.simulator.views import CONTENT_SECURITY_POLICY as SIMULATOR_CSP
from webapp.ops.security_headers import DEFAULT_CSP, MAX_BODY_BYTES

HUGE = 8 * 1024 * 1024


class CountingStream:
    """A request body of `size` bytes that is produced only as it is read, counting reads."""

    def __init__(self, size: int, data: bytes = b"") -> None:
        self.size = size or len(data)
        self.data = data
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        start, self.read_bytes = self.read_bytes, self.read_bytes + n
        return self.data[start:start + n] if self.data else b"a" * n

    def readline(self, limit: int = -1) -> bytes:
        return self.read(limit if limit and limit > 0 else 8192)


def _post_raw(app: Flask, stream: CountingStream, *, chunked: bool,
              signature: str = "garbage") -> int:
    """POST `stream` to /sms straight through the WSGI app (the test client would read the
    body itself first); returns the status code."""
    builder = EnvironBuilder(path="/sms", method="POST", base_url="https://fieldline.test",
                             headers={"X-Twilio-Signature": signature,
                                      "Content-Type": "application/x-www-form-urlencoded"})
    environ = builder.get_environ()
    environ["wsgi.input"] = stream
    if chunked:  # unknown length: what a server hands over for Transfer-Encoding: chunked
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(stream.size)
    app_iter, status, _headers = run_wsgi_app(app, environ, buffered=True)
    b"".join(app_iter)
    return int(status.split()[0])


def test_a_huge_body_with_a_bad_signature_is_refused_without_reading_it(
        app: Flask, agent) -> None:
    stream = CountingStream(HUGE)

    status = _post_raw(app, stream, chunked=False)

    assert status == 413
    assert stream.read_bytes == 0  # refused on its declared length, before the form is parsed
    assert rows(app, Message) == []


def test_a_huge_body_of_unknown_length_is_cut_off_at_the_cap(app: Flask, agent) -> None:
    stream = CountingStream(HUGE)

    status = _post_raw(app, stream, chunked=True)

    assert status == 413
    assert stream.read_bytes <= 2 * MAX_BODY_BYTES  # read only up to the cap, not 8 MB
    assert rows(app, Message) == []


def test_a_signed_webhook_of_unknown_length_under_the_cap_is_answered(app: Flask,
                                                                      agent) -> None:
    params = {"From": agent.phone, "Body": "What's John Doe's status?", "MessageSid": "SMchunk"}
    stream = CountingStream(0, urlencode(params).encode())

    status = _post_raw(app, stream, chunked=True, signature=sign(app, "/sms", params))

    assert status == 200
    assert [m.body for m in rows(app, Message) if m.direction == "inbound"] == [params["Body"]]


def test_the_cap_is_64_kb_and_a_real_webhook_passes(app: Flask, phone) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES == 64 * 1024
    assert phone.text("What's John Doe's status?")  # a signed, normal-sized webhook

    params = {"From": phone.phone, "Body": "x" * (MAX_BODY_BYTES + 10), "MessageSid": "SMbig"}
    response = app.test_client().post(
        "/sms", data=params, headers={"X-Twilio-Signature": sign(app, "/sms", params)})
    assert response.status_code == 413  # even correctly signed


def test_every_response_says_nosniff_and_no_referrer(app: Flask, phone) -> None:
    client = app.test_client()
    for response in (client.get("/healthz"), client.get("/no-such-page"),
                     phone.post("What's John Doe's status?")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "Server" not in response.headers


def test_html_without_a_policy_gets_the_default_one_with_frame_ancestors(app: Flask) -> None:
    response = app.test_client().get("/no-such-page")  # Flask's HTML error page

    assert response.status_code == 404 and response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == DEFAULT_CSP
    assert "frame-ancestors 'none'" in DEFAULT_CSP


@pytest.mark.parametrize("settings", [{"SIMULATOR_ENABLED": True}])
def test_a_page_with_its_own_policy_keeps_it(app: Flask, agent) -> None:
    response = app.test_client().get("/simulator")

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers.getlist("Content-Security-Policy") == [SIMULATOR_CSP]


def test_hsts_only_over_https(app: Flask) -> None:
    client = app.test_client()
    secure = client.get("/healthz", base_url="https://fieldline.test")
    plain = client.get("/healthz", base_url="http://fieldline.test")

    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in plain.headers


@pytest.mark.parametrize("settings", [{"TRUST_PROXY_HEADERS": True}])
def test_hsts_behind_our_proxy_follows_x_forwarded_proto(app: Flask) -> None:
    client = app.test_client()
    proxied = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" in proxied.headers


@pytest.mark.parametrize("settings", [{"APP_ENV": "production", "SIMULATOR_ENABLED": True}])
def test_production_serves_no_simulator_script_or_style_anywhere(app: Flask) -> None:
    client = app.test_client()
    for path in ("/static/simulator.js", "/static/simulator.css",
                 "/simulator/static/simulator.js", "/simulator/static/simulator.css"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"simulator" not in response.data.lower() or b"<html" in response.data.lower()


def test_a_blueprint_may_be_allowed_larger_bodies_and_only_it(app: Flask) -> None:
    from flask import Blueprint, request

    from webapp.ops.security_headers import allow_larger_bodies

    uploads = Blueprint("uploads_test", __name__)

    @uploads.post("/_upload")
    def upload() -> str:
        return str(len(request.form["file"]))

    app.register_blueprint(uploads)
    allow_larger_bodies(app, "uploads_test", 512 * 1024)
    client = app.test_client()
    big = {"file": "x" * (200 * 1024)}

    assert client.post("/_upload", data=big).get_data(as_text=True) == str(200 * 1024)
    assert client.post("/_upload", data={"file": "x" * (600 * 1024)}).status_code == 413
    assert client.post("/healthz", data=big).status_code == 413  # the rest keep 64 KB
