"""CSRF tokens for the web app's forms: an HMAC of a secret the browser holds in an HttpOnly
cookie, checked on every POST.

Why our own and not Flask-WTF's CSRFProtect: that one keeps its secret in Flask's signed cookie
session (a second session beside our server-side one) and, under HTTPS, refuses any POST
without a same-origin Referer, while our pages send `Referrer-Policy: no-referrer` (the sign-in
URL holds a secret). What is needed fits here: the token is HMAC-SHA256(SECRET_KEY, binding),
where the binding is the server-side session id once signed in, else a random pre-session
cookie (so the sign-in button itself is protected against login CSRF). Another site can neither
read that cookie nor, with SameSite=Lax, make the browser send it on a cross-site POST.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

FIELD = "csrf_token"


def new_binding() -> str:
    """A fresh pre-session secret (the value of the pre-session cookie)."""
    return secrets.token_urlsafe(24)


def csrf_token(secret_key: str, binding: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), b"fieldline-csrf|" + binding.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, binding: str | None, given: str | None) -> bool:
    """Whether `given` is the token for `binding` (constant-time)."""
    if not binding or not given:
        return False
    return hmac.compare_digest(csrf_token(secret_key, binding), given)
