"""A real headless browser for the whole-system tests: Debian's chromium driven by Playwright
(never `playwright install`: browsers cannot be downloaded here), and the app on a socket."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "apt-get update && apt-get install -y chromium   (Debian's browser, at /usr/bin/chromium; "
    "or set CHROMIUM_PATH)\n"
    ".venv/bin/pip install -r requirements-dev.txt   (playwright==1.65.2; do NOT run "
    "`playwright install`, it downloads browsers)"
)


def require_browser() -> Any:
    """Playwright's sync API, or a failure naming exactly what to install (a missing browser
    is never mistaken for a pass)."""
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the Playwright Python package is missing. Install:\n" + INSTALL_HINT,
                    pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}. Install:\n" + INSTALL_HINT, pytrace=False)
    return sync_api


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """`app` on a real socket (127.0.0.1, a free port), served from a thread; its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="browser-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
