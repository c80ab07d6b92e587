"""The API against its own OpenAPI description: the document is valid OpenAPI 3.1, and a
property-based run of schemathesis (in-process, through the WSGI app) over every operation,
with inputs valid and invalid by the description, finds no server error and no answer the
description does not allow (status, content type, headers, body schema), and every request
without a key refused.

`positive_data_acceptance` is left out on purpose: the API checks more than a schema can say
(a phone must be a real number in the agent's country, a follow-up must be in the future, an
id must be one of the agent's), so schema-valid input may rightly get 404, 409 or 422.

Ids drawn at random rarely name one of the agent's objects, so a third of the cases are valid
ones pointed at real ids (a lead, a follow-up, a webhook), which reach the handlers' success
paths too.

(schemathesis's own pytest loader reads a pytest attribute that pytest 9 no longer has, so
each operation's cases are drawn here with `as_strategy` and hypothesis directly.)
"""

from __future__ import annotations

import traceback

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from sqlalchemy import select

from db.models import Lead
from tests.support.api import new_key
from webapp.database import get_db

EXCLUDED = ("positive_data_acceptance",)
EXAMPLES_PER_OPERATION = 60


@pytest.fixture
def settings(settings: dict) -> dict:  # noqa: F811 - conftest's, with a higher rate limit
    settings["API_RATE_LIMIT_PER_MINUTE"] = 100_000  # the run is a flood by design
    return settings


def test_the_description_is_valid_openapi_3_1(app: Flask) -> None:
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert loaded.raw_schema["openapi"] == "3.1.0"
    operations = [result.ok() for result in loaded.get_all_operations()]
    assert len(operations) == 14


def _real_ids(app: Flask, agent, headers: dict[str, str]) -> dict[str, int]:
    client = app.test_client()
    lead_id = _lead_ids(app, agent.id)[0]
    follow_up = client.post("/api/v1/follow_ups", headers=headers, json={
        "lead_id": lead_id, "title": "call back", "due_at": "2099-01-01T10:00:00+00:00"})
    webhook = client.post("/api/v1/webhooks", headers=headers,
                          json={"url": "https://crm.example.com/hooks"})
    return {"lead_id": lead_id, "follow_up_id": follow_up.get_json()["id"],
            "webhook_id": webhook.get_json()["id"]}


def _lead_ids(app: Flask, agent_id: int) -> list[int]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Lead.id).where(Lead.agent_id == agent_id)))


def test_every_operation_does_what_the_description_says(app: Flask, agent) -> None:
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {new_key(app, agent.id)}"}
    ids = _real_ids(app, agent, headers)

    def with_real_ids(case):
        for name in case.path_parameters or {}:
            case.path_parameters[name] = ids.get(name, case.path_parameters[name])
        if isinstance(case.body, dict) and "lead_id" in case.body:
            case.body["lead_id"] = ids["lead_id"]
        return case

    excluded = [check for check in CHECKS.get_all() if check.__name__ in EXCLUDED]
    failures: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE),
                          operation.as_strategy(GenerationMode.POSITIVE).map(with_real_ids))

        @given(case=cases)
        @examples(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            # A real key replaces the generated one; a negative case that dropped the header
            # (to see a missing key refused) must stay without it.
            sent = headers if "Authorization" in (case.headers or {}) else {}
            case.call_and_validate(headers=sent, excluded_checks=excluded)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure
            details = "".join(traceback.format_exception(exc))[-6000:]
            failures.append(f"{operation.method.upper()} {operation.path}: {details}")
    assert not failures, "\n\n".join(failures)
