"""/api/v1: the resources' blueprints under one parent whose hooks every request passes.

Before a handler: the key (401), the key's rate limit (429), a readable JSON object body on
POST/PATCH (400), and an `Idempotency-Key` claim on POST (a stored answer is replayed here).
After it: the rate-limit headers, and the answer stored for the Idempotency-Key.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from webapp.api import docs, follow_ups, idempotency, interactions, leads, status_history
from webapp.api import webhooks as webhook_routes
from webapp.api.auth import authenticate
from webapp.api.errors import ApiError, error_response
from webapp.api.rate_limit import count_request
from webapp.database import get_db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
for _child in (leads.bp, interactions.bp, follow_ups.bp, status_history.bp, webhook_routes.bp):
    bp.register_blueprint(_child)

API_PREFIX = "/api/"


@bp.before_request
def _gate() -> Response | None:
    db = get_db()
    g.api_caller = caller = authenticate(db)
    g.api_rate = rate = count_request(current_app.extensions["redis"], caller.key_id,
                                      current_app.config["API_RATE_LIMIT_PER_MINUTE"])
    if not rate.allowed:
        response = error_response(429, "too many requests for this API key; retry after "
                                       f"{rate.reset} s", code="rate_limited")
        response.headers["Retry-After"] = str(rate.reset)
        return response
    if request.method in ("POST", "PATCH", "PUT"):
        body = request.get_json(silent=True)
        if not request.is_json or not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object (Content-Type: "
                                "application/json)")
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key:
            if len(key) > 255 or "\x00" in key:
                raise ApiError(400, "an Idempotency-Key is 1 to 255 characters, no NUL",
                               "Idempotency-Key")
            claim = idempotency.begin(db, caller.key_id, key,
                                      idempotency.request_fingerprint(request.method,
                                                                      request.path, body))
            if isinstance(claim, idempotency.Replay):
                response = Response(claim.body, status=claim.status, mimetype="application/json")
                response.headers["Idempotent-Replayed"] = "true"
                return response
            g.api_idempotency_claim = claim
    return None


@bp.after_request
def _after(response: Response) -> Response:
    rate = g.get("api_rate")
    if rate is not None:
        response.headers.update(rate.headers())
    claim = g.pop("api_idempotency_claim", None)
    if claim is not None:
        idempotency.finish(get_db(), claim, response.status_code,
                           response.get_data(as_text=True))
    return response


@bp.teardown_request
def _release(exc: BaseException | None) -> None:
    """A request that died before its answer was stored frees its Idempotency-Key."""
    claim = g.pop("api_idempotency_claim", None)
    if claim is not None:
        idempotency.finish(get_db(), claim, 500, "")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.message, exc.field, exc.code)


def _http_error_for_api(exc: HTTPException) -> Any:
    """Under /api/, even a route that does not exist or a method it lacks answers in JSON."""
    if not request.path.startswith(API_PREFIX):
        return exc
    if (exc.code or 500) >= 500:  # no internals in the answer; the log has them
        return error_response(500, "something went wrong on our side; nothing was changed "
                                   "unless the object says so, and the request may be retried")
    response = error_response(exc.code or 500, exc.description or exc.name)
    for name, value in exc.get_headers():  # e.g. Allow on a 405
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def register_api(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(docs.bp)
    for status in (400, 404, 405, 413, 415, 500):
        app.register_error_handler(status, _http_error_for_api)
