"""/simulator, the local phone: off unless enabled in development/testing, sends through the real
inbound-SMS code, and its feed shows one agent's messages after an id.

Flask test client against the real database and Redis; no worker (nothing waits for a plan to
run). The browser-level test is tests/system/test_simulator_browser.py.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from db.models import Message, User
from webapp.channels.simulator import views as simulator_module
from webapp.database import get_db

ENABLED = {"SIMULATOR_ENABLED": True}


@pytest.fixture
def settings() -> dict:
    return dict(ENABLED)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _messages(app: Flask) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def _send(client: FlaskClient, agent: str, text: str):
    return client.post("/simulator/send", json={"agent": agent, "text": text})


# --- off unless enabled, and never in production ------------------------------------------

@pytest.mark.parametrize(
    "settings",
    [
        {"SIMULATOR_ENABLED": False},
        {"SIMULATOR_ENABLED": False, "APP_ENV": "development"},
        {"SIMULATOR_ENABLED": True, "APP_ENV": "production"},
    ],
    ids=["switched-off", "switched-off-in-development", "production"],
)
def test_every_route_is_404_unless_enabled_outside_production(client, app, agent,
                                                              settings) -> None:
    assert client.get("/simulator").status_code == 404
    assert client.get("/simulator/").status_code == 404
    assert client.get(f"/simulator/messages?agent={agent.phone}").status_code == 404
    assert client.get("/simulator/static/simulator.js").status_code == 404
    response = _send(client, agent.phone, "Mark Sarah Smith as qualified")
    assert response.status_code == 404
    assert _messages(app) == []


def test_enabled_only_with_the_switch_and_a_safe_environment() -> None:
    enabled = simulator_module.simulator_enabled
    assert enabled({"SIMULATOR_ENABLED": True, "APP_ENV": "development"})
    assert enabled({"SIMULATOR_ENABLED": True, "APP_ENV": "testing"})
    assert not enabled({"SIMULATOR_ENABLED": True, "APP_ENV": "production"})
    assert not enabled({"SIMULATOR_ENABLED": True})
    assert not enabled({"SIMULATOR_ENABLED": False, "APP_ENV": "development"})


# --- the page -----------------------------------------------------------------------------

def test_page_shows_the_demo_agent_by_default_and_lists_every_agent(client, app, agent) -> None:
    with get_db(app).session() as session:
        session.add(User(name="Blake <b>Ng</b>", phone="+13125550199",
                         timezone="America/Chicago"))
        session.commit()
    response = client.get("/simulator")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-agent="+13125550100"' in html
    assert '<option value="+13125550100" selected>' in html
    assert '<option value="+13125550199" >' in html
    assert "Blake &lt;b&gt;Ng&lt;/b&gt;" in html  # names are escaped
    assert "<b>Ng" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in html  # nothing inline: the CSP forbids it


def test_page_can_be_opened_as_another_agent(client, app, agent) -> None:
    with get_db(app).session() as session:
        session.add(User(name="Blake Ng", phone="+13125550199", timezone="America/Chicago"))
        session.commit()
    html = client.get("/simulator?agent=(312) 555-0199").get_data(as_text=True)
    assert 'data-agent="+13125550199"' in html


def test_page_without_agents_says_how_to_add_one(client) -> None:
    html = client.get("/simulator").get_data(as_text=True)
    assert "demo seed" in html
    assert "simulator.js" not in html


def test_the_script_and_style_are_served_and_never_parse_bodies_as_html(client) -> None:
    script = client.get("/simulator/static/simulator.js")
    assert script.status_code == 200
    js = script.get_data(as_text=True)
    assert "textContent" in js
    assert "innerHTML" not in js and "insertAdjacentHTML" not in js
    assert client.get("/simulator/static/simulator.css").status_code == 200


# --- sending ------------------------------------------------------------------------------

def test_a_sent_text_is_recorded_as_inbound_and_its_reply_is_returned_and_stored(
    client, app, agent
) -> None:
    response = _send(client, agent.phone, "Mark Sarah Smith as qualified")
    assert response.status_code == 200
    data = response.get_json()
    assert "Reply YES" in data["reply"]
    assert data["sid"].startswith("SIM") and len(data["sid"]) == 35

    inbound, reply = _messages(app)
    assert (inbound.direction, inbound.body, inbound.agent_id, inbound.provider_sid) == (
        "inbound", "Mark Sarah Smith as qualified", agent.id, data["sid"])
    assert (inbound.channel, inbound.status) == ("sms", "received")
    assert (reply.direction, reply.status, reply.body, reply.agent_id) == (
        "outbound", "replied", data["reply"], agent.id)

    confirmed = _send(client, agent.phone, "YES").get_json()["reply"]
    assert "Confirmed" in confirmed


def test_the_agent_may_be_given_in_any_phone_format(client, app, agent) -> None:
    response = _send(client, "(312) 555-0100", "HELP")
    assert response.status_code == 200
    assert _messages(app)[0].agent_id == agent.id


@pytest.mark.parametrize("phone", ["+13125550111", "not a phone", ""])
def test_an_unknown_agent_is_refused_and_nothing_is_recorded(client, app, agent, phone) -> None:
    response = _send(client, phone, "Mark Sarah Smith as qualified")
    assert response.status_code in (400, 404)
    assert "agent" in response.get_json()["error"]
    assert _messages(app) == []


def test_only_json_is_accepted_so_other_sites_cannot_post_a_form(client, app, agent) -> None:
    response = client.post("/simulator/send", data={"agent": agent.phone, "text": "YES"})
    assert response.status_code == 415
    assert _messages(app) == []


def test_a_missing_or_oversized_text_is_refused(client, app, agent) -> None:
    assert client.post("/simulator/send", json={"agent": agent.phone}).status_code == 400
    too_big = "x" * (simulator_module.MAX_TEXT + 1)
    assert _send(client, agent.phone, too_big).status_code == 400
    assert _messages(app) == []


# --- the feed -----------------------------------------------------------------------------

def _add_rows(app: Flask, agent_id: int, rows: list[tuple[str, str, str]]) -> list[int]:
    ids = []
    with get_db(app).session() as session:
        for direction, body, status in rows:
            message = Message(direction=direction, agent_id=agent_id, phone="+13125550100",
                              body=body, status=status)
            session.add(message)
            session.flush()
            ids.append(message.id)
        session.commit()
    return ids


def test_the_feed_returns_only_that_agents_messages_after_an_id_in_order(client, app,
                                                                          agent) -> None:
    with get_db(app).session() as session:
        other = User(name="Blake Ng", phone="+13125550199", timezone="America/Chicago")
        session.add(other)
        session.commit()
        other_id = other.id
    first, second = _add_rows(app, agent.id, [("inbound", "hello", "received"),
                                              ("outbound", "hi <there>", "replied")])
    _add_rows(app, other_id, [("inbound", "not yours", "received")])
    third, = _add_rows(app, agent.id, [("outbound", "✅ Done! late news", "queued")])

    from_start = client.get(f"/simulator/messages?agent={agent.phone}&after=0").get_json()
    assert [m["id"] for m in from_start["messages"]] == [first, second, third]

    everything = client.get(f"/simulator/messages?agent={agent.phone}").get_json()
    assert [m["id"] for m in everything["messages"]] == [first, second, third]
    assert everything["agent"] == agent.phone

    after = client.get(f"/simulator/messages?agent={agent.phone}&after={first}").get_json()
    assert [m["id"] for m in after["messages"]] == [second, third]
    row = after["messages"][0]
    assert row == {"id": second, "direction": "outbound", "channel": "sms", "body": "hi <there>",
                   "status": "replied", "created_at": row["created_at"]}
    assert row["created_at"].endswith("+00:00")
    assert after["more"] is False

    latest = client.get(f"/simulator/messages?agent={agent.phone}&after={third}").get_json()
    assert latest["messages"] == []

    theirs = client.get("/simulator/messages?agent=%2B13125550199").get_json()
    assert [m["body"] for m in theirs["messages"]] == ["not yours"]


def test_the_feed_pages_through_a_long_history(client, app, agent) -> None:
    ids = _add_rows(app, agent.id, [("inbound", f"n{n}", "received")
                                    for n in range(simulator_module.FEED_LIMIT + 5)])
    first_page = client.get(f"/simulator/messages?agent={agent.phone}&after={ids[0] - 1}")
    data = first_page.get_json()
    assert len(data["messages"]) == simulator_module.FEED_LIMIT and data["more"] is True
    rest = client.get(
        f"/simulator/messages?agent={agent.phone}&after={data['messages'][-1]['id']}").get_json()
    assert [m["id"] for m in rest["messages"]] == ids[simulator_module.FEED_LIMIT:]
    history = client.get(f"/simulator/messages?agent={agent.phone}").get_json()["messages"]
    assert [m["id"] for m in history] == ids[-simulator_module.HISTORY_LIMIT:]


def test_the_feed_refuses_an_unknown_agent_or_a_bad_id(client, app, agent) -> None:
    unknown = client.get("/simulator/messages?agent=%2B13125550111")
    assert unknown.status_code == 404
    assert client.get("/simulator/messages").status_code == 400
    assert client.get(f"/simulator/messages?agent={agent.phone}&after=x").status_code == 400
    assert client.get(f"/simulator/messages?agent={agent.phone}&after=-1").status_code == 400
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
