"""What every API handler shares: the caller, reading values as texts are read, and running a
change through plan execution (channel "api", no YES step, no result text)."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Lead
from webapp.api.auth import Agent, Caller
from webapp.api.errors import ApiError
from webapp.database import get_db
from webapp.execution.handlers import PlanRejected
from webapp.execution.handlers.base import MAX_EXTERNAL_IDS
from webapp.execution.handlers.lead_details import check_value
from webapp.execution.plans import Outcome, run_plan_now
from webapp.phones import InvalidPhone, normalize_phone, region_of

CHANNEL = "api"


def caller() -> Caller:
    return g.api_caller


def agent() -> Agent:
    return caller().agent


def read_phone(raw: str, field: str = "phone") -> str:
    """`raw` as E.164, national numbers read in the agent's country (as texts are)."""
    region = region_of(agent().phone, current_app.config["DEFAULT_COUNTRY"])
    try:
        return normalize_phone(raw, region)
    except InvalidPhone as exc:
        raise ApiError(422, f"{raw!r} is not a valid phone number", field) from exc


def read_value(field: str, raw: str) -> str:
    """A lead's name or email checked as plan execution will check it."""
    try:
        return check_value(field, raw)
    except PlanRejected as exc:
        raise ApiError(422, str(exc), field) from exc


MAX_ID = 2_147_483_647


def own(session: Session, model: Any, object_id: int, what: str, field: str | None = None
        ) -> Any:
    """The agent's `model` row `object_id`; another agent's is as missing as none (404)."""
    row = session.get(model, object_id) if 1 <= object_id <= MAX_ID else None
    if row is None or row.agent_id != agent().id:
        raise ApiError(404, f"no such {what}", field)
    return row


def own_lead(session: Session, lead_id: int, field: str | None = None) -> Lead:
    lead = session.get(Lead, lead_id) if 1 <= lead_id <= MAX_ID else None
    if lead is None or lead.agent_id != agent().id:
        raise ApiError(404, "no such lead", field)
    return lead


def phone_owner(session: Session, phone: str, other_than: int | None = None) -> Lead | None:
    query = select(Lead).where(Lead.agent_id == agent().id, Lead.phone == phone)
    if other_than is not None:
        query = query.where(Lead.id != other_than)
    return session.scalars(query.limit(1)).first()


def external_id_owner(session: Session, ids: dict[str, Any],
                      other_than: int | None = None) -> Lead | None:
    """The agent's lead that carries any of `ids` (a map of system names to ids)."""
    for system, value in list(ids.items())[:MAX_EXTERNAL_IDS]:
        if value is None:
            continue
        query = select(Lead).where(Lead.agent_id == agent().id,
                                   Lead.external_ids[system].as_string() == value)
        if other_than is not None:
            query = query.where(Lead.id != other_than)
        found = session.scalars(query.limit(1)).first()
        if found is not None:
            return found
    return None


def run_change(actions: list[dict[str, Any]], summary: str) -> Outcome:
    """Run `actions` as one plan, now; a plan the execution refused is a 409 saying why."""
    outcome = run_plan_now(get_db(), agent().id, actions, CHANNEL, summary=summary)
    if outcome.state != "executed":
        reason = outcome.error or "the change could not be made"
        if reason.startswith("internal error"):
            raise RuntimeError(f"plan {outcome.plan_id} failed: {reason}")
        raise ApiError(409, reason)
    return outcome
