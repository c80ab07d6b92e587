"""The API's errors: always JSON `{"error": {"code", "message", "field"}}`.

400 a request that cannot be read (not JSON, a bad query parameter or cursor); 401 no valid
key; 404 nothing of the agent's by that id (another agent's is the same as none); 409 it
conflicts with what is there (a phone already used, a follow-up already closed, an
Idempotency-Key reused with another body); 422 it was read but a value is not acceptable;
429 over the key's rate limit.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
         429: "rate_limited", 500: "internal_error"}


class ApiError(Exception):
    """Raised by a handler; answered as the JSON error above."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or CODES.get(status, "error")


def error_body(status: int, message: str, field: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message,
                      "field": field}}


def error_response(status: int, message: str, field: str | None = None,
                   code: str | None = None) -> Response:
    response = jsonify(error_body(status, message, field, code))
    response.status_code = status
    return response


def not_found(what: str, field: str | None = None) -> ApiError:
    return ApiError(404, f"no such {what}", field)
