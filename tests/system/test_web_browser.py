"""The agents' web app in a real headless Chromium (Debian's, driven by Playwright) at a phone's
390x844: signing in by a one-time link and its button, the pipeline, a lead's page and a status
change through its form, a chart drawn, the CSV export, and what must be refused (a link's
second use, another agent's lead, a form without its CSRF token); the note templates page and
an email draft's page, whose Copy button (the app's one script file) copies the draft. Every
page is checked for sideways scrolling at 390 px and at desktop width, and against CSP
violations.

Needs Debian's chromium and Playwright's Python package (see tests/support/browser.py); when
either is missing the test fails and says how to install it.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import EmailDraft, Lead, LeadHistory, NoteTemplate, User
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_browser, served
from tests.support.web import new_link_path
from webapp.crm.demo import DEMO_AGENT, seed_demo
from webapp.database import get_db

pytestmark = pytest.mark.integration

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000
SCREENSHOT = Path(os.environ.get("WEB_APP_SCREENSHOT", "/tmp/web-app.png"))
PAGES = ["/app", "/app?status=contacted", "/app?q=smith", "/app/leads/{lead}", "/app/agenda",
         "/app/reports", "/app/reports?period=this_year", "/app/templates", "/app/settings",
         "/app/drafts/{draft}", "/login"]


@pytest.fixture
def demo(app: Flask) -> dict[str, Any]:
    """The demo agent's book (months of history), and another agent with a lead of their own."""
    with get_db(app).session() as session:
        agent = seed_demo(session)
        other = User(name="Blake Ng", phone="+13125550199", timezone="America/New_York")
        session.add(other)
        session.flush()
        secret = Lead(agent_id=other.id, name="Secret Person", status="qualified")
        session.add(secret)
        session.commit()
        dana = session.scalar(select(Lead).where(Lead.agent_id == agent.id,
                                                 Lead.name == "Dana Cole"))
        session.add(NoteTemplate(agent_id=agent.id, name="lv",
                                 text="left a voicemail, will try again tomorrow"))
        draft = EmailDraft(agent_id=agent.id, lead_id=dana.id, about="the inspection",
                           subject="The inspection", writer="template",
                           body="Hi Dana,\n\nI'm writing about the inspection, which is a "
                                "rather long word-wrapping sentence for a phone screen.\n\n"
                                "Best regards,\nAlex Rivera")
        session.add(draft)
        session.commit()
        return {"agent_id": agent.id, "dana": dana.id, "dana_status": dana.status,
                "secret": secret.id, "draft": draft.id, "draft_body": draft.body}


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    with served(app) as base:
        yield base


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = require_browser()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """A page in a fresh browser context (its own cookies) that records CSP violations and
    script errors: the app has no script, so any would be a fault."""

    def __init__(self, browser: Any, viewport: dict[str, int] = PHONE) -> None:
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # An error page's own status (404, 410) is logged as "Failed to load resource"; a CSP
        # violation says "Refused to ..." / "Content Security Policy".
        if message.type == "error" and ("Refused" in message.text
                                        or "Content Security Policy" in message.text):
            self.problems.append(message.text)

    def fits(self) -> None:
        """Nothing scrolls sideways, and every visible control lies within the viewport."""
        width = self.page.viewport_size["width"]
        scroll = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{self.page.url} scrolls sideways: {scroll} > {width}"
        outside = self.page.evaluate("""width => [...document.querySelectorAll(
            'a, button, input:not([type=hidden]), select, textarea, summary')]
            .filter(el => el.offsetParent !== null)
            .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect()])
            .filter(([, box]) => box.left < 0 || box.right > width + 0.5)
            .map(([html]) => html)""", width)
        assert outside == [], f"{self.page.url}: controls outside the viewport: {outside}"

    def close(self) -> None:
        self.context.close()
        assert self.problems == []


def _continue_button(page: Any) -> Any:
    return page.get_by_role("button", name=re.compile("Continue as Alex Rivera"))


def test_a_link_opened_alone_signs_nobody_in_and_its_button_signs_in_once(
    app, demo, server, browser
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    link = server + new_link_path(app, demo["agent_id"])

    preview = Tab(browser)  # a link preview or scanner: it only opens the link
    preview.page.goto(link)
    expect(_continue_button(preview.page)).to_be_visible()
    preview.page.goto(server + "/app")
    assert preview.page.url == server + "/login"
    expect(preview.page.get_by_role("heading", name="Sign in to Fieldline")).to_be_visible()
    preview.close()

    tab = Tab(browser)
    tab.page.goto(link)
    expect(tab.page.get_by_text("This link signs you in as")).to_contain_text("Alex Rivera")
    _continue_button(tab.page).click()
    tab.page.wait_for_url(server + "/app")
    expect(tab.page.get_by_role("heading", name="Pipeline")).to_be_visible()
    cookie = next(c for c in tab.context.cookies() if c["name"] == "fl_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    tab.close()

    again = Tab(browser)  # the link's second use, from another browser
    response = again.page.goto(link)
    assert response.status == 410
    expect(again.page.get_by_role("heading")).to_contain_text("no longer works")
    expect(_continue_button(again.page)).to_have_count(0)
    again.page.goto(server + "/app")
    assert again.page.url == server + "/login"
    again.close()


def test_the_agent_works_through_the_pages(app, demo, server, browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    tab = Tab(browser)
    page = tab.page
    page.goto(server + new_link_path(app, demo["agent_id"]))
    _continue_button(page).click()
    page.wait_for_url(server + "/app")

    # The pipeline shows the agent's leads, column by column; never another agent's.
    expect(page.locator("#col-negotiating")).to_contain_text("Negotiating")
    expect(page.locator(".card-name", has_text="Dana Cole")).to_be_visible()
    assert page.locator(".card").count() > 20
    expect(page.locator("body")).not_to_contain_text("Secret Person")

    # A lead's page, and a status change through its form.
    page.locator(".card", has_text="Dana Cole").click()
    expect(page.get_by_role("heading", name="Dana Cole", level=1)).to_be_visible()
    expect(page.locator(".entries .entry").first).to_be_visible()
    page.get_by_label("New status").select_option("closed_won")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("status")).to_contain_text("Status changed.")
    newest = page.locator(".entries .entry").first
    expect(newest).to_contain_text("Status: Negotiating → Closed won")
    expect(newest.locator(".channel")).to_have_text("web")
    with get_db(app).session() as session:
        history = session.scalars(select(LeadHistory).where(
            LeadHistory.lead_id == demo["dana"]).order_by(LeadHistory.id.desc())).first()
        assert (history.old_status, history.new_status, history.channel) == (
            "negotiating", "closed_won", "web")

    # A form posted without its CSRF token is refused and changes nothing.
    page.locator("form[action$='/status'] input[name=csrf_token]").evaluate("el => el.remove()")
    page.get_by_label("New status").select_option("closed_lost")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("That form could not be accepted")
    with get_db(app).session() as session:
        assert session.get(Lead, demo["dana"]).status == "closed_won"

    # Another agent's lead does not exist.
    response = page.goto(server + f"/app/leads/{demo['secret']}")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("body")).not_to_contain_text("Secret Person")

    # Reports: every chart is drawn with a size, the first has its title.
    page.get_by_role("link", name="Reports").click()
    charts = page.locator("svg.chart[role=img]")
    expect(charts).to_have_count(5)
    for index in range(5):
        box = charts.nth(index).bounding_box()
        assert box["width"] > 100 and box["height"] > 50, box
    # Each chart is one image named by its title, for screen readers.
    expect(page.get_by_role("img", name="Leads added (last 90 days) by status now")
           ).to_be_visible()
    expect(page.get_by_role("img", name="Interactions per week by type")).to_be_visible()
    assert page.locator("svg.chart rect").count() > 20
    page.get_by_role("link", name="This year").click()
    expect(page.get_by_role("link", name="This year")).to_have_attribute("aria-current", "page")

    # The CSV export, downloaded and parsed.
    with page.expect_download() as download:
        page.get_by_role("link", name="leads (CSV)").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    by_name = {row["name"]: row for row in rows}
    assert len(rows) > 30 and "Secret Person" not in by_name
    assert by_name["Dana Cole"]["status"] == "closed_won"
    assert by_name["Dana Cole"]["phone"] == "+17735550127"
    tab.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390x844", "1280x900"])
def test_every_page_fits_without_sideways_scrolling(app, demo, server, browser,
                                                    viewport) -> None:
    tab = Tab(browser, viewport)
    page = tab.page
    page.goto(server + new_link_path(app, demo["agent_id"]))
    tab.fits()  # the sign-in page
    _continue_button(page).click()
    page.wait_for_url(server + "/app")
    for path in PAGES:
        page.goto(server + path.format(lead=demo["dana"], draft=demo["draft"]))
        for details in page.locator("details").all():  # open forms must fit too
            if details.is_visible():
                details.locator("summary").click()
        tab.fits()
    if viewport == PHONE:
        page.goto(server + "/app/reports")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))
    tab.close()


def test_templates_and_a_drafts_copy_button_work_in_the_browser(app, demo, server,
                                                                browser) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    tab = Tab(browser)
    page = tab.page
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.goto(server + new_link_path(app, demo["agent_id"]))
    _continue_button(page).click()
    page.wait_for_url(server + "/app")

    # The note templates page, from the footer: add one, see it listed.
    page.get_by_role("link", name="note templates").click()
    expect(page.get_by_role("heading", name="Note templates")).to_be_visible()
    page.get_by_label("Name (one word)").fill("nr")
    page.get_by_label("Note", exact=True).fill("no reply to texts")
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_role("status")).to_contain_text("Template saved.")
    expect(page.locator(".template-name", has_text="nr")).to_be_visible()
    with get_db(app).session() as session:
        names = set(session.scalars(select(NoteTemplate.name).where(
            NoteTemplate.agent_id == demo["agent_id"])))
    assert names == {"lv", "nr"}

    # The draft page: Open in mail is a mailto: link; Copy (script) copies the text.
    page.goto(server + f"/app/drafts/{demo['draft']}")
    with get_db(app).session() as session:
        email = session.get(Lead, demo["dana"]).email
    href = page.get_by_role("link", name="Open in mail").get_attribute("href")
    assert href.startswith(f"mailto:{email}?subject=The%20inspection&body=Hi%20Dana%2C%0D%0A")
    copy = page.locator("button[data-copy=draft-body]")
    expect(copy).to_have_text("Copy")
    expect(copy).to_be_visible()  # shown by the script; hidden without it
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == demo["draft_body"]
    page.get_by_role("button", name="I sent it: log the email").click()
    expect(page.get_by_role("status")).to_contain_text("Logged the email")
    tab.close()

    # Without JavaScript the Copy button stays hidden and the text can be selected by hand.
    plain = browser.new_context(viewport=PHONE, java_script_enabled=False)
    page = plain.new_page()
    page.goto(server + new_link_path(app, demo["agent_id"]))
    _continue_button(page).click()
    page.goto(server + f"/app/drafts/{demo['draft']}")
    expect(page.get_by_role("button", name="Copy", exact=True)).to_be_hidden()
    expect(page.get_by_label("Text")).to_have_value(demo["draft_body"])
    plain.close()


def test_the_demo_agent_is_the_one_signed_in(app, demo) -> None:
    with get_db(app).session() as session:
        assert session.get(User, demo["agent_id"]).phone == DEMO_AGENT["phone"]
