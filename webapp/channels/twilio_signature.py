"""Every Twilio webhook must carry a valid X-Twilio-Signature, checked with twilio's own
`RequestValidator` against the URL Twilio called (our public URL, not the one behind a proxy)."""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path and query when set, else the request's own
    (which honours X-Forwarded-* only when TRUST_PROXY_HEADERS installed ProxyFix)."""
    base = current_app.config["PUBLIC_BASE_URL"]
    if base:
        query = request.query_string.decode()
        return base + request.path + (f"?{query}" if query else "")
    return request.url


def signature_is_valid() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    url, params = public_url(), request.form.to_dict(flat=True)
    # The URL exactly as Twilio called it first: one HMAC for a genuine webhook. `validate`
    # always computes two (the URL with and without its port) and accepts either; it is the
    # answer whenever this first guess does not match.
    if hmac.compare_digest(validator.compute_signature(url, params).encode(), signature.encode()):
        return True
    return validator.validate(url, params, signature)


def require_twilio_signature(view: Callable[..., Any]) -> Callable[..., Any]:
    """403 and nothing else for unsigned or wrongly signed requests.

    Only an explicit development setting (TWILIO_VALIDATE_SIGNATURES=false with APP_ENV=development)
    turns the check off; config.check_required refuses it in production.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        config = current_app.config
        checking = config["TWILIO_VALIDATE_SIGNATURES"] or config["APP_ENV"] != "development"
        if checking and not signature_is_valid():
            log.warning("rejected webhook with a bad or missing signature",
                        extra={"path": request.path})
            abort(403)
        return view(*args, **kwargs)

    return wrapper
