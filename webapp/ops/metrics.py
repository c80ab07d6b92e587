"""GET /metrics and per-route request timing; the metric objects are in `webapp.ops.counters`.

``/metrics`` answers 404 unless ``METRICS_TOKEN`` is set, then 401 unless the request carries
``Authorization: Bearer <token>``: figures about an agent's traffic are not public.
"""

from __future__ import annotations

import hmac
import os
import time

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST

from webapp.ops.counters import HTTP_RESPONSES, WEBHOOK_LATENCY, render

# Routes not worth timing: the scrape itself and the probes would drown the real traffic.
_UNTIMED = frozenset({"/metrics", "/healthz", "/readyz", "/static/<path:filename>"})

bp = Blueprint("metrics", __name__)


def _token() -> str:
    return current_app.config.get("METRICS_TOKEN") or os.environ.get("METRICS_TOKEN") or ""


@bp.get("/metrics")
def metrics() -> Response:
    token = _token()
    if not token:
        return Response("Not Found\n", status=404, mimetype="text/plain")
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                             token.encode()):
        return Response("Unauthorized\n", status=401, mimetype="text/plain",
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    config = current_app.config
    broker = config.get("CELERY_BROKER_URL") or config.get("REDIS_URL")
    return Response(render(broker), mimetype=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g._fieldline_started = time.perf_counter()


def _route() -> str | None:
    rule = request.url_rule
    route = rule.rule if rule is not None else "unmatched"
    return None if route in _UNTIMED else route


def _record(status: int) -> None:
    started = g.pop("_fieldline_started", None)
    if started is None:
        return
    route = _route()
    if route is None:
        return
    WEBHOOK_LATENCY.labels(endpoint=route, method=request.method).observe(
        time.perf_counter() - started
    )
    HTTP_RESPONSES.labels(endpoint=route, status=str(status)).inc()


def _after(response: Response) -> Response:
    _record(response.status_code)
    return response


def _teardown(exc: BaseException | None) -> None:
    if exc is not None:  # after_request did not run: an unhandled error became a 500
        _record(500)


def init_app(app: Flask) -> None:
    """Register /metrics and time every request by its route (the label is the rule, never
    the raw path, so ids and tokens in URLs do not become label values)."""
    if bp.name in app.blueprints:
        return
    app.register_blueprint(bp)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_after)
    app.teardown_request(_teardown)
