"""/simulator in a real headless Chromium: typing, Enter, the immediate reply, and the worker's
later result text appearing by itself — the whole path a developer uses, with a real Celery
worker and the real twilio client talking to the loopback Twilio stand-in.

Needs Debian's chromium and Playwright's Python package (never `playwright install`: browsers
cannot be downloaded here). When either is missing the test fails and says how to install it,
so a missing browser is never mistaken for a pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import Message
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, served
from tests.support.waiting import wait_for
from webapp.database import get_db

pytestmark = pytest.mark.integration

SCREENSHOT = Path(os.environ.get("SIMULATOR_SCREENSHOT", "/tmp/simulator.png"))
TIMEOUT_MS = 10_000


@pytest.fixture
def settings(twilio_standin) -> dict:
    return {
        "SIMULATOR_ENABLED": True,
        "SMS_SENDER": "twilio",
        "TWILIO_API_BASE_URL": twilio_standin.base_url,
    }


@pytest.fixture
def server(app: Flask, agent) -> Iterator[str]:
    """The test app on a real socket (127.0.0.1, a free port), served from a thread."""
    with served(app) as url:
        yield url


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page in a fresh headless Chromium profile; fails the test on any page or console
    error (a Content-Security-Policy violation shows up there, for one)."""
    sync_api = require_browser()
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 480, "height": 860},
        )
        try:
            tab = context.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            tab.on("console", lambda msg: errors.append(f"console: {msg.text}")
                   if msg.type == "error" else None)
            yield tab
        finally:
            context.close()
    assert errors == []


def _send(page: Any, text: str) -> None:
    box = page.locator("#text")
    box.fill(text)
    box.press("Enter")  # Enter sends, as on a phone keyboard


def test_typing_in_the_local_phone_shows_reply_confirmation_and_the_workers_text(
    app, agent, server, page, celery_worker, twilio_standin
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(server + "/simulator")
    expect(page.locator("#agent")).to_have_value(agent.phone)
    theirs = page.locator(".msg.theirs .bubble")

    _send(page, "Mark Sarah Smith as qualified")
    expect(theirs.last).to_contain_text("Reply YES")
    _send(page, "YES")
    expect(theirs.filter(has_text="Confirmed")).to_have_count(1)
    done = theirs.filter(has_text="✅ Done!")
    expect(done).to_have_count(1, timeout=TIMEOUT_MS)
    expect(done).to_contain_text("Sarah Smith")
    # The worker really sends it (through the twilio client to the stand-in)...
    wait_for(lambda: any("Done" in m["Body"] for m in twilio_standin.messages))
    # ...and the status under it follows the row (queued/sending -> sent).
    expect(page.locator(".msg.theirs", has_text="✅ Done!").locator(".meta")).to_contain_text(
        "sent")

    # Every row of the messages table shown exactly once...
    with get_db(app).session() as session:
        rows = list(session.scalars(
            select(Message).where(Message.agent_id == agent.id).order_by(Message.id)))
    expect(page.locator(".msg")).to_have_count(len(rows))
    shown_ids = page.locator(".msg").evaluate_all("els => els.map(e => Number(e.dataset.id))")
    assert sorted(shown_ids) == [row.id for row in rows]
    # ...each immediate reply under the text it answers, even when the worker's text was
    # written first (smaller id), and the worker's text after them.
    thread = page.locator(".msg").evaluate_all(
        "els => els.map(e => e.dataset.direction + ': ' + e.textContent)")
    expected = [("inbound: ", "Mark Sarah Smith"), ("outbound: ", "Reply YES"),
                ("inbound: ", "YES"), ("outbound: ", "Confirmed"), ("outbound: ", "✅ Done!")]
    assert len(thread) == len(expected), thread
    assert all(got.startswith(side) and text in got
               for got, (side, text) in zip(thread, expected, strict=True)), thread

    # A body is text, never markup.
    _send(page, "<img src=x onerror=alert(1)> <b>bold</b>")
    mine = page.locator(".msg.mine .bubble").last
    expect(mine).to_have_text("<img src=x onerror=alert(1)> <b>bold</b>")
    assert mine.locator("img, b").count() == 0
    expect(page.locator(".msg")).to_have_count(len(rows) + 2)  # the text and its reply

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
