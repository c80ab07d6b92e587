"""/api/v1/follow_ups: list, schedule, and move, retitle, complete or cancel one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from db.models import Appointment
from webapp.api.changes import agent, own, own_lead, run_change
from webapp.api.errors import ApiError
from webapp.api.paging import page
from webapp.api.schemas import (
    ErrorBody,
    FollowUp,
    FollowUpCreate,
    FollowUpList,
    FollowUpPatch,
    IdempotencyHeaders,
    LeadItemsQuery,
)
from webapp.api.spec import api_spec, responses
from webapp.database import get_db
from webapp.integrations.representations import FOLLOW_UP_STATES, follow_up_json

bp = Blueprint("follow_ups", __name__)
TAGS = ["follow_ups"]


@bp.get("/follow_ups")
@api_spec.validate(query=LeadItemsQuery, resp=responses(HTTP_200=FollowUpList), tags=TAGS)
def list_follow_ups() -> Any:
    """List follow-ups, oldest first (optionally one lead's)."""
    query_in: LeadItemsQuery = request.context.query
    query = select(Appointment).where(Appointment.agent_id == agent().id)
    if query_in.lead_id is not None:
        query = query.where(Appointment.lead_id == query_in.lead_id)
    return page(get_db(), query, Appointment, limit=query_in.limit, after=query_in.after,
                updated_since=query_in.updated_since,
                updated_column=Appointment.updated_at, represent=follow_up_json)


@bp.post("/follow_ups")
@api_spec.validate(json=FollowUpCreate, headers=IdempotencyHeaders, tags=TAGS,
                   resp=responses(HTTP_201=FollowUp, HTTP_404=ErrorBody, HTTP_409=ErrorBody))
def create_follow_up() -> Any:
    """Schedule a follow-up; the agent is reminded by text when it is due.

    `due_at` must be in the future (with an offset), as a texted time must."""
    body: FollowUpCreate = request.context.json
    _require_future(body.due_at)
    with get_db().session() as session:
        lead_name = own_lead(session, body.lead_id, "lead_id").name
    action = {"type": "schedule_follow_up", "lead_id": body.lead_id, "lead": lead_name,
              "due_at": body.due_at.isoformat(), "title": body.title.strip(),
              "external_ids": dict(body.external_ids)}
    outcome = run_change([action], "API: schedule follow-up")
    return _follow_up(outcome.effects[0]["appointment_id"]), 201


@bp.patch("/follow_ups/<int:follow_up_id>")
@api_spec.validate(json=FollowUpPatch, tags=TAGS,
                   resp=responses(HTTP_200=FollowUp, HTTP_404=ErrorBody, HTTP_409=ErrorBody))
def update_follow_up(follow_up_id: int) -> Any:
    """Move (`due_at`), retitle (`title`), or close (`state`: done or cancelled) a follow-up.

    A closed follow-up cannot be changed (409); `state: open` on an open one changes nothing."""
    body: FollowUpPatch = request.context.json
    with get_db().session() as session:
        row = own(session, Appointment, follow_up_id, "follow-up")
        current = {"lead_id": row.lead_id, "lead": "", "appointment_id": row.id,
                   "title": row.title, "due_at": row.due_at.isoformat()}
        state = FOLLOW_UP_STATES[row.state]
    wants_change = (body.due_at is not None or body.title is not None
                    or body.state not in (None, state))
    if state != "open":
        if wants_change:
            raise ApiError(409, f"that follow-up is already {state}", "state")
        return _follow_up(follow_up_id)
    actions = []
    new_title = body.title.strip() if body.title is not None else None
    new_due = body.due_at
    if new_due is not None and new_due == datetime.fromisoformat(current["due_at"]):
        new_due = None
    if new_due is not None:
        _require_future(new_due)
    if new_due is not None or (new_title is not None and new_title != current["title"]):
        actions.append({**current, "type": "reschedule_follow_up",
                        "due_at": (new_due.isoformat() if new_due else current["due_at"]),
                        "title": new_title or current["title"],
                        "old_due_at": current["due_at"], "old_title": current["title"]})
    if body.state in ("done", "cancelled"):
        after_move = {**current, "title": new_title or current["title"],
                      "due_at": new_due.isoformat() if new_due else current["due_at"]}
        kind = "complete_follow_up" if body.state == "done" else "cancel_follow_up"
        actions.append({**after_move, "type": kind})
    if actions:
        run_change(actions, "API: update follow-up")
    return _follow_up(follow_up_id)


def _require_future(due_at: datetime) -> None:
    if due_at <= datetime.now(UTC):
        raise ApiError(422, "due_at is already past", "due_at")


def _follow_up(follow_up_id: int) -> dict[str, Any]:
    with get_db().session() as session:
        return follow_up_json(session.get_one(Appointment, follow_up_id))
