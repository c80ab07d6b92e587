"""Security headers on every response, and the request-body cap, in one place.

What each header is for, and why it is set the way it is:

* ``X-Content-Type-Options: nosniff`` — a browser must not guess a type (TwiML, JSON, the
  calendar feed) into HTML or script.
* ``Referrer-Policy: no-referrer`` — a page of ours never tells another site where the user
  came from (the calendar feed's URL is a credential).
* ``Content-Security-Policy`` on HTML — `DEFAULT_CSP` (same-origin resources only, no plugins,
  and ``frame-ancestors 'none'`` so no site can frame a page of ours) when the response has
  none of its own. Pages that set a stricter policy (the simulator, the web app) keep theirs:
  a CSP already on the response is never overwritten.
* ``Strict-Transport-Security`` when the request came over https (directly, or through our own
  proxy with ``TRUST_PROXY_HEADERS``): browsers then refuse plain http to this host for a year.
* No ``Server`` detail: gunicorn says only "gunicorn" (no version), and the app adds nothing.

The body cap (`MAX_BODY_BYTES`, Flask's ``MAX_CONTENT_LENGTH``): Twilio's webhooks are a few
KB. A body declared larger is refused with 413 before anything reads it (`_refuse_large_body`
runs first among the request hooks, before the signature check reads the form); a body of
unknown length (chunked) is read up to the cap, no further, and refused with 413 when it reaches
it (kept for the form parser when it does not).
gunicorn does not read the rest either: a sync worker closes the connection after each
response, and a keep-alive worker drains at most 64 KB of an unread body before closing.
A blueprint that must take more (a file upload in a web app) says so once, when it is
registered: `allow_larger_bodies(blueprint_name, limit)`; its routes then get that cap instead.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

MAX_BODY_BYTES = 64 * 1024  # Twilio's own limit for a message is 1,600 characters

DEFAULT_CSP = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HSTS = "max-age=31536000"
_LARGER_LIMITS = "fieldline_body_limits"  # app.extensions key: blueprint name -> bytes


def allow_larger_bodies(app: Flask, blueprint: str, limit: int) -> None:
    """Let the routes of `blueprint` take bodies up to `limit` bytes instead of the app's cap."""
    app.extensions.setdefault(_LARGER_LIMITS, {})[blueprint] = limit


def _refuse_large_body() -> None:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    larger = current_app.extensions.get(_LARGER_LIMITS, {})
    for blueprint in request.blueprints:
        if blueprint in larger:
            limit = request.max_content_length = larger[blueprint]
            break
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge()
    elif request.environ.get("wsgi.input_terminated"):
        # Unknown length (chunked): Werkzeug's stream stops at the cap but would hand the
        # form parser the first 64 KB as if they were all. Read (and keep) at most the cap
        # here, then ask for one byte more: at the cap that raises 413.
        request.get_data(cache=True)
        request.stream.read(1)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html" and "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = DEFAULT_CSP
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Cap request bodies (unless the config already set a cap) and add the headers above to
    every response, errors included."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_large_body)
    app.after_request(_add_headers)
