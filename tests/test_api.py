"""The integration API through its real routes, on SQLite and PostgreSQL: keys and scoping,
each resource, validation as texts are validated, paging, idempotency and rate limits.

Changes must run through plan execution: the audit rows say channel "api".
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from db.models import (
    Appointment,
    ChangeHistory,
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    User,
)
from tests.support.api import ApiClient, new_key
from tests.support.databases import rows
from webapp.database import get_db
from webapp.integrations.api_keys import revoke_key


def _error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]


def _lead_id(app: Flask, name: str) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(Lead.id).where(Lead.name == name))


@pytest.fixture
def other_agent(app: Flask) -> int:
    with get_db(app).session() as session:
        other = User(name="Sam Other", phone="+13125550199", timezone="America/Chicago")
        session.add(other)
        session.flush()
        session.add(Lead(agent_id=other.id, name="Zed Zimmerman", phone="+13125550188"))
        session.commit()
        return other.id


# --- keys and scoping ----------------------------------------------------------------------

def test_a_request_without_a_key_or_with_a_bad_one_is_401_json(app: Flask, agent) -> None:
    for key in (None, "nonsense", "fl_" + "x" * 43):
        response = ApiClient(app, key).get("/leads")
        assert response.status_code == 401
        assert response.is_json
        assert _error(response)["code"] == "unauthorized"


def test_a_revoked_key_stops_working(app: Flask, agent) -> None:
    raw = new_key(app, agent.id)
    client = ApiClient(app, raw)
    assert client.get("/leads").status_code == 200
    with get_db(app).session() as session:
        from db.models import ApiKey
        key_id = session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc()))
        revoke_key(session, key_id)
        session.commit()
    assert client.get("/leads").status_code == 401


def test_keys_are_stored_hashed(app: Flask, agent) -> None:
    raw = new_key(app, agent.id)
    from db.models import ApiKey
    stored = rows(app, ApiKey)[-1]
    assert raw not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    assert raw.startswith(stored.prefix)


def test_a_key_sees_only_its_agents_data(app: Flask, api: ApiClient, other_agent: int) -> None:
    names = {lead["name"] for lead in api.get("/leads").get_json()["data"]}
    assert "Zed Zimmerman" not in names and "John Doe" in names
    zed = _lead_id(app, "Zed Zimmerman")
    for response in (api.get(f"/leads/{zed}"), api.patch(f"/leads/{zed}", {"name": "Hacked"}),
                     api.post("/interactions", {"lead_id": zed, "type": "call"}),
                     api.post("/follow_ups", {"lead_id": zed, "title": "x",
                                              "due_at": "2099-01-01T10:00:00+00:00"})):
        assert response.status_code == 404, response.get_json()
        assert _error(response)["code"] == "not_found"
    assert rows(app, Lead)[-1].name == "Zed Zimmerman"
    assert not rows(app, ClientInteraction) and not rows(app, Appointment)


def test_unknown_routes_and_methods_under_api_answer_json(app: Flask, api: ApiClient) -> None:
    assert _error(api.get("/nothing-here"))["code"] == "not_found"
    response = api.client.put("/api/v1/leads", json={}, headers=api.headers())
    assert response.status_code == 405 and _error(response)["code"] == "method_not_allowed"
    assert api.get("/leads/99999999999").status_code == 404


# --- leads ---------------------------------------------------------------------------------

def test_objects_have_ids_utc_times_and_external_ids(api: ApiClient) -> None:
    lead = api.get("/leads").get_json()["data"][0]
    assert {"id", "created_at", "updated_at", "external_ids"} <= set(lead)
    for moment in (lead["created_at"], lead["updated_at"]):
        assert moment.endswith("Z") and datetime.fromisoformat(moment).utcoffset() == \
            timedelta(0)


def test_create_a_lead_through_plan_execution(app: Flask, api: ApiClient) -> None:
    response = api.post("/leads", {"name": "Nina Park", "phone": "(312) 555-0177",
                                   "email": "Nina@Example.com", "status": "qualified",
                                   "external_ids": {"fub": "123"}})
    assert response.status_code == 201, response.get_json()
    lead = response.get_json()
    assert lead["phone"] == "+13125550177"  # national number read in the agent's country
    assert lead["email"] == "nina@example.com" and lead["status"] == "qualified"
    assert lead["external_ids"] == {"fub": "123"} and lead["source"] == "api"
    assert api.get(f"/leads/{lead['id']}").get_json() == lead
    plan = rows(app, ExecutedPlan)[-1]
    assert plan.channel == "api" and plan.state == "executed"
    history = rows(app, LeadHistory)[-1]
    assert (history.lead_id, history.old_status, history.new_status, history.channel) == \
        (lead["id"], None, "qualified", "api")


@pytest.mark.parametrize("body, field, status", [
    ({"name": "X", "phone": "12"}, "phone", 422),
    ({"name": "X", "email": "not-an-email"}, "email", 422),
    ({"name": "X", "status": "hot"}, "status", 422),
    ({"name": "   "}, "name", 422),
    ({"name": "A\x00B"}, "name", 422),  # PostgreSQL cannot store NUL
    ({"name": "X", "external_ids": {"fub": "1\x00"}}, "external_ids.fub", 422),
    ({"phone": "+13125550177"}, "name", 422),
    ({"name": "X", "surprise": 1}, "surprise", 422),
    ({"name": "X", "phone": "+13125550123"}, "phone", 409),  # John Doe's
])
def test_bad_lead_input_is_refused_and_changes_nothing(app: Flask, api: ApiClient, body: dict,
                                                       field: str, status: int) -> None:
    before = len(rows(app, Lead))
    response = api.post("/leads", body)
    assert response.status_code == status, response.get_json()
    assert _error(response)["field"] == field
    assert len(rows(app, Lead)) == before and not rows(app, ExecutedPlan)


def test_a_body_that_is_not_a_json_object_is_400(api: ApiClient) -> None:
    for data, content_type in (("{not json", "application/json"), ("[1, 2]", "application/json"),
                               ("name=x", "application/x-www-form-urlencoded")):
        response = api.client.post("/api/v1/leads", data=data, content_type=content_type,
                                   headers=api.headers())
        assert response.status_code == 400
        assert _error(response)["code"] == "bad_request"


def test_patch_a_lead_writes_audit_rows_with_channel_api(app: Flask, api: ApiClient) -> None:
    john = _lead_id(app, "John Doe")
    response = api.patch(f"/leads/{john}", {"name": "Johnny Doe", "phone": "312-555-0199",
                                            "status": "negotiating",
                                            "external_ids": {"hubspot": "77"}})
    assert response.status_code == 200, response.get_json()
    lead = response.get_json()
    assert (lead["name"], lead["phone"], lead["status"], lead["external_ids"]) == \
        ("Johnny Doe", "+13125550199", "negotiating", {"hubspot": "77"})
    change = rows(app, ChangeHistory)[-1]
    assert change.channel == "api" and change.kind == "lead.updated"
    assert change.changes["name"] == ["John Doe", "Johnny Doe"]
    status = rows(app, LeadHistory)[-1]
    assert (status.old_status, status.new_status, status.channel) == \
        ("contacted", "negotiating", "api")
    # external ids merge; null removes one
    lead = api.patch(f"/leads/{john}", {"external_ids": {"fub": "5", "hubspot": None}}
                     ).get_json()
    assert lead["external_ids"] == {"fub": "5"}


def test_patch_with_nothing_new_changes_nothing(app: Flask, api: ApiClient) -> None:
    john = _lead_id(app, "John Doe")
    response = api.patch(f"/leads/{john}", {"name": "John Doe", "status": "contacted"})
    assert response.status_code == 200
    assert not rows(app, ExecutedPlan)


def test_a_phone_of_another_lead_is_a_conflict(app: Flask, api: ApiClient) -> None:
    john = _lead_id(app, "John Doe")
    response = api.patch(f"/leads/{john}", {"phone": "+13125550124"})  # Jane Doe's
    assert response.status_code == 409 and _error(response)["field"] == "phone"


def test_leads_filter_by_external_id_phone_and_status(app: Flask, api: ApiClient) -> None:
    api.post("/leads", {"name": "Nina Park", "external_ids": {"fub": "123"}})
    names = lambda **q: [lead["name"] for lead in api.get("/leads", **q).get_json()["data"]]  # noqa: E731
    assert names(external_id="fub:123") == ["Nina Park"]
    assert names(external_id="fub:999") == []
    assert names(phone="312 555 0123") == ["John Doe"]
    assert sorted(names(status="contacted")) == ["John Doe", "Sarah Smith"]
    assert api.get("/leads", status="hot").status_code == 400
    assert api.get("/leads", phone="12").status_code == 400


# --- paging --------------------------------------------------------------------------------

def _walk(api: ApiClient, path: str, **query) -> list[dict]:
    seen, after = [], None
    while True:
        params = {**query, **({"after": after} if after else {})}
        body = api.get(path, **params).get_json()
        seen += body["data"]
        after = body["paging"]["next"]
        if after is None:
            return seen


def test_lists_page_in_a_stable_order_with_a_cursor(app: Flask, api: ApiClient) -> None:
    for n in range(7):
        api.post("/leads", {"name": f"Paged {n}"})
    first = api.get("/leads", limit=3).get_json()
    assert len(first["data"]) == 3 and first["paging"]["next"]
    walked = _walk(api, "/leads", limit=3)
    ids = [lead["id"] for lead in walked]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 12
    assert api.get("/leads", limit=101).status_code == 400
    assert _error(api.get("/leads", after="garbage"))["field"] == "after"


def test_updated_since_returns_what_changed(app: Flask, api: ApiClient) -> None:
    mark = datetime.now(UTC)
    john = _lead_id(app, "John Doe")
    api.patch(f"/leads/{john}", {"status": "qualified"})
    changed = api.get("/leads", updated_since=mark.isoformat()).get_json()["data"]
    assert [lead["name"] for lead in changed] == ["John Doe"]
    response = api.get("/leads", updated_since="2026-03-05T10:00:00")  # no offset
    assert response.status_code == 400 and _error(response)["field"] == "updated_since"


def test_paging_while_leads_are_inserted_neither_skips_nor_repeats(app: Flask,
                                                                   api: ApiClient) -> None:
    for n in range(30):
        api.post("/leads", {"name": f"Existing {n}"})
    existing = {lead["id"] for lead in _walk(api, "/leads", limit=100)}
    writer = ApiClient(app, api.key)
    stop = threading.Event()

    def insert() -> None:
        n = 0
        while not stop.is_set() and n < 60:
            writer.post("/leads", {"name": f"Concurrent {n}"})
            n += 1

    thread = threading.Thread(target=insert)
    thread.start()
    try:
        walked = _walk(api, "/leads", limit=4)
    finally:
        stop.set()
        thread.join()
    ids = [lead["id"] for lead in walked]
    assert len(ids) == len(set(ids)), "a record was repeated"
    assert existing <= set(ids), "a record that existed when paging began was skipped"


# --- interactions, follow-ups, status history ---------------------------------------------

def test_log_an_interaction_with_its_own_time(app: Flask, api: ApiClient) -> None:
    dana = _lead_id(app, "Dana Cole")
    response = api.post("/interactions", {"lead_id": dana, "type": "call", "note": "went well",
                                          "occurred_at": "2026-03-05T09:30:00-06:00",
                                          "external_ids": {"fub": "call-1"}})
    assert response.status_code == 201, response.get_json()
    interaction = response.get_json()
    assert interaction["occurred_at"] == "2026-03-05T15:30:00.000Z"
    assert interaction["channel"] == "api" and interaction["external_ids"] == {"fub": "call-1"}
    listed = api.get("/interactions", lead_id=dana).get_json()["data"]
    assert listed == [interaction]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = api.post("/interactions", {"lead_id": dana, "type": "call",
                                          "occurred_at": future})
    assert response.status_code == 409
    assert api.post("/interactions", {"lead_id": dana, "type": "dance"}).status_code == 422


def test_follow_ups_are_scheduled_moved_completed_and_cancelled(app: Flask,
                                                                api: ApiClient) -> None:
    dana = _lead_id(app, "Dana Cole")
    due = datetime.now(UTC) + timedelta(days=2)
    response = api.post("/follow_ups", {"lead_id": dana, "title": "send the contract",
                                        "due_at": due.isoformat()})
    assert response.status_code == 201, response.get_json()
    follow_up = response.get_json()
    assert follow_up["state"] == "open" and follow_up["channel"] == "api"
    moved = (due + timedelta(days=1)).replace(microsecond=0)
    response = api.patch(f"/follow_ups/{follow_up['id']}", {"due_at": moved.isoformat(),
                                                           "title": "send it signed"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["title"] == "send it signed"
    assert datetime.fromisoformat(response.get_json()["due_at"]) == moved
    assert rows(app, Appointment)[-1].sequence == 1  # the calendar feed sees the change
    done = api.patch(f"/follow_ups/{follow_up['id']}", {"state": "done"}).get_json()
    assert done["state"] == "done" and done["completed_at"]
    response = api.patch(f"/follow_ups/{follow_up['id']}", {"state": "cancelled"})
    assert response.status_code == 409
    kinds = [row.kind for row in rows(app, ChangeHistory)]
    assert kinds == ["follow_up.rescheduled", "follow_up.completed"]
    assert {row.channel for row in rows(app, ChangeHistory)} == {"api"}


def test_a_follow_up_made_through_the_api_is_in_the_calendar_feed(app: Flask,
                                                                  api: ApiClient) -> None:
    from icalendar import Calendar

    from webapp.channels.calendar_feed import issue_calendar_token
    dana = _lead_id(app, "Dana Cole")
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    api.post("/follow_ups", {"lead_id": dana, "title": "walk-through", "due_at": due.isoformat()})
    with get_db(app).session() as session:
        token = issue_calendar_token(session, session.get(User, rows(app, User)[0].id))
        session.commit()
    feed = Calendar.from_ical(app.test_client().get(f"/calendar/{token}.ics").data)
    [event] = feed.walk("VEVENT")
    assert "walk-through" in str(event["SUMMARY"]) and event.decoded("DTSTART") == due


def test_a_follow_up_in_the_past_or_without_an_offset_is_refused(app: Flask,
                                                                  api: ApiClient) -> None:
    dana = _lead_id(app, "Dana Cole")
    past = api.post("/follow_ups", {"lead_id": dana, "title": "x",
                                    "due_at": "2020-01-01T10:00:00+00:00"})
    assert past.status_code == 422 and _error(past)["field"] == "due_at"
    naive = api.post("/follow_ups", {"lead_id": dana, "title": "x",
                                     "due_at": "2099-01-01T10:00:00"})
    assert naive.status_code == 422 and _error(naive)["field"] == "due_at"
    assert not rows(app, Appointment)


def test_status_history_lists_changes_from_every_channel(app: Flask, api: ApiClient,
                                                         phone) -> None:
    sarah = _lead_id(app, "Sarah Smith")
    api.patch(f"/leads/{sarah}", {"status": "qualified"})
    history = api.get("/status_history", lead_id=sarah).get_json()["data"]
    assert [(h["old_status"], h["new_status"], h["channel"]) for h in history] == \
        [("contacted", "qualified", "api")]
    assert history[0]["created_at"] == history[0]["changed_at"]


# --- batch upsert --------------------------------------------------------------------------

def test_batch_upsert_matches_by_external_id_or_phone_and_answers_per_item(
        app: Flask, api: ApiClient) -> None:
    api.post("/leads", {"name": "Nina Park", "external_ids": {"fub": "1"}})
    response = api.post("/leads/batch/upsert", {"leads": [
        {"external_ids": {"fub": "1"}, "status": "qualified"},  # by external id
        {"phone": "+13125550123", "email": "john@example.com"},  # John Doe, by phone
        {"name": "Brand New", "phone": "+13125550150", "external_ids": {"fub": "2"}},
        {"name": "Bad Phone", "phone": "12"},
        {"phone": "+13125550160"},  # nobody has it, and no name to create one
        {"external_ids": {"fub": "1"}, "status": "qualified"},  # already so
    ]})
    assert response.status_code == 200, response.get_json()
    answers = response.get_json()["data"]
    assert [a["result"] for a in answers] == ["updated", "updated", "created", "error",
                                              "error", "unchanged"]
    assert answers[0]["lead"]["status"] == "qualified"
    assert answers[1]["lead"]["name"] == "John Doe"
    assert answers[1]["lead"]["email"] == "john@example.com"
    assert answers[2]["lead"]["external_ids"] == {"fub": "2"}
    assert answers[3]["error"]["field"] == "phone" and answers[3]["lead"] is None
    assert answers[4]["error"]["field"] == "name"
    too_many = api.post("/leads/batch/upsert", {"leads": [{"name": "x"}] * 101})
    assert too_many.status_code == 422


# --- idempotency ---------------------------------------------------------------------------

def test_the_same_idempotency_key_and_body_returns_the_first_answer_once(
        app: Flask, api: ApiClient) -> None:
    body = {"name": "Once Only", "phone": "+13125550171"}
    first = api.post("/leads", body, {"Idempotency-Key": "k-1"})
    again = api.post("/leads", dict(reversed(body.items())), {"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [lead.name for lead in rows(app, Lead)].count("Once Only") == 1
    assert len(rows(app, ExecutedPlan)) == 1
    other = api.post("/leads", {"name": "Another"}, {"Idempotency-Key": "k-1"})
    assert other.status_code == 409 and _error(other)["code"] == "idempotency_conflict"
    # keys belong to one API key: another key may use the same one
    second = ApiClient(app, new_key(app, rows(app, User)[0].id))
    assert second.post("/leads", {"name": "Another"}, {"Idempotency-Key": "k-1"}
                       ).status_code == 201


def test_an_idempotent_error_is_replayed_too(app: Flask, api: ApiClient) -> None:
    body = {"name": "X", "phone": "+13125550123"}
    first = api.post("/leads", body, {"Idempotency-Key": "dup"})
    assert first.status_code == 409
    assert api.post("/leads", body, {"Idempotency-Key": "dup"}).get_json() == first.get_json()


def test_an_idempotency_key_is_forgotten_after_a_day(app: Flask, api: ApiClient) -> None:
    from db.models import IdempotencyRecord
    from webapp.api.idempotency import prune
    api.post("/leads", {"name": "Day Old"}, {"Idempotency-Key": "old"})
    assert prune(get_db(app), datetime.now(UTC) + timedelta(hours=25)) == 1
    assert not rows(app, IdempotencyRecord)


# --- rate limits ---------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [{"API_RATE_LIMIT_PER_MINUTE": 3}])
def test_rate_limits_per_key_with_headers_and_retry_after(app: Flask, agent,
                                                          settings) -> None:
    client = ApiClient(app, new_key(app, agent.id))
    answers = [client.get("/leads") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" for r in answers)
    assert 1 <= int(answers[-1].headers["X-RateLimit-Reset"]) <= 60
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert _error(answers[-1])["code"] == "rate_limited"
    other = ApiClient(app, new_key(app, agent.id))  # another key has its own budget
    assert other.get("/leads").status_code == 200


# --- webhooks resource, description, reference page ---------------------------------------

@pytest.mark.parametrize("settings", [{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": False}])
def test_webhooks_are_registered_listed_and_removed(app: Flask, api: ApiClient,
                                                    settings) -> None:
    response = api.post("/webhooks", {"url": "https://crm.example.com/hooks",
                                      "events": ["lead.created", "lead.status_changed"]})
    assert response.status_code == 201, response.get_json()
    hook = response.get_json()
    assert hook["secret"].startswith("whsec_") and hook["state"] == "active"
    listed = api.get("/webhooks").get_json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    for url in ("ftp://crm.example.com/x", "http://127.0.0.1:8080/x", "http://10.1.2.3/x",
                "http://[::1]/x", "http://169.254.169.254/latest"):
        refused = api.post("/webhooks", {"url": url})
        assert refused.status_code == 422 and _error(refused)["field"] == "url", url
    assert api.post("/webhooks", {"url": "https://x.example", "events": ["lead.eaten"]}
                    ).status_code == 422
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert api.delete(f"/webhooks/{hook['id']}").status_code == 404


def test_the_openapi_description_is_3_1_and_covers_every_route(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    routes = {(path, method) for path, item in spec["paths"].items() for method in item}
    assert routes == {
        ("/api/v1/leads", "get"), ("/api/v1/leads", "post"),
        ("/api/v1/leads/{lead_id}", "get"), ("/api/v1/leads/{lead_id}", "patch"),
        ("/api/v1/leads/batch/upsert", "post"),
        ("/api/v1/interactions", "get"), ("/api/v1/interactions", "post"),
        ("/api/v1/follow_ups", "get"), ("/api/v1/follow_ups", "post"),
        ("/api/v1/follow_ups/{follow_up_id}", "patch"),
        ("/api/v1/status_history", "get"),
        ("/api/v1/webhooks", "get"), ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{webhook_id}", "delete"),
    }
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_reference_page_is_readable_and_loads_nothing_from_elsewhere(app: Flask) -> None:
    response = app.test_client().get("/api/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Fieldline integration API" in page and "/api/v1/leads/batch/upsert" in page
    assert "<script" not in page and "src=" not in page
    assert "http://" not in page and "https://" not in page.replace(
        "https://crm.example.com", "")


@pytest.mark.parametrize("settings", [{"PROPAGATE_EXCEPTIONS": False}])
def test_a_server_error_under_api_is_json_too(app: Flask, api: ApiClient, settings,
                                              monkeypatch) -> None:
    import webapp.api.leads as leads_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(leads_module, "lead_json", broken)
    response = api.get(f"/leads/{_lead_id(app, 'John Doe')}")
    assert response.status_code == 500 and _error(response)["code"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)
