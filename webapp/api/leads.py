"""/api/v1/leads: list, get, create, change, and upsert in batches.

A lead created here is texted to its agent (a new-lead alert, written with the lead); the
leads one batch upsert creates are texted as one summary once the batch is done.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from db.models import Lead
from webapp.api.changes import (
    agent,
    external_id_owner,
    own_lead,
    phone_owner,
    read_phone,
    read_value,
    run_change,
)
from webapp.api.errors import ApiError, error_body
from webapp.api.paging import page
from webapp.api.schemas import (
    ErrorBody,
    IdempotencyHeaders,
    LeadBatch,
    LeadCreate,
    LeadList,
    LeadListQuery,
    LeadPatch,
    LeadUpsert,
    UpsertAnswers,
)
from webapp.api.schemas import Lead as LeadModel
from webapp.api.spec import api_spec, responses
from webapp.crm.lead_alerts import one_batch
from webapp.database import get_db
from webapp.integrations.representations import lead_json
from webapp.understanding.plan import new_lead_ref

bp = Blueprint("leads", __name__)
TAGS = ["leads"]


@bp.get("/leads")
@api_spec.validate(query=LeadListQuery, resp=responses(HTTP_200=LeadList), tags=TAGS)
def list_leads() -> Any:
    """List leads, oldest first.

    Filter by `external_id` (`system:id`), `phone` (any format) or `status`."""
    query_in: LeadListQuery = request.context.query
    query = select(Lead).where(Lead.agent_id == agent().id)
    if query_in.external_id:
        system, _, value = query_in.external_id.partition(":")
        query = query.where(Lead.external_ids[system].as_string() == value)
    if query_in.phone:
        try:
            query = query.where(Lead.phone == read_phone(query_in.phone))
        except ApiError as exc:
            raise ApiError(400, exc.message, "phone") from exc
    if query_in.status:
        query = query.where(Lead.status == query_in.status)
    return page(get_db(), query, Lead, limit=query_in.limit, after=query_in.after,
                updated_since=query_in.updated_since, updated_column=Lead.updated_at,
                represent=lead_json)


@bp.get("/leads/<int:lead_id>")
@api_spec.validate(resp=responses(HTTP_200=LeadModel, HTTP_404=ErrorBody), tags=TAGS)
def get_lead(lead_id: int) -> Any:
    """Get one lead."""
    with get_db().session() as session:
        return lead_json(own_lead(session, lead_id))


@bp.post("/leads")
@api_spec.validate(json=LeadCreate, headers=IdempotencyHeaders, tags=TAGS,
                   resp=responses(HTTP_201=LeadModel, HTTP_409=ErrorBody))
def create_lead() -> Any:
    """Create a lead.

    The phone is read as a texted one is (E.164, or national in the agent's country); a phone
    or an external id may belong to one lead only (409). A `note` is logged as the lead's
    first note, in the same change."""
    body: LeadCreate = request.context.json
    actions = [_create_action(body.name, body.phone, body.email, body.status,
                              body.external_ids)]
    if body.note.strip():
        actions.append({"type": "log_interaction", "lead_id": new_lead_ref(0),
                        "lead": actions[0]["name"], "interaction_type": "note",
                        "note": body.note.strip()})
    outcome = run_change(actions, "API: create lead")
    return _lead(outcome.effects[0]["lead_id"]), 201


@bp.patch("/leads/<int:lead_id>")
@api_spec.validate(json=LeadPatch, tags=TAGS,
                   resp=responses(HTTP_200=LeadModel, HTTP_404=ErrorBody, HTTP_409=ErrorBody))
def update_lead(lead_id: int) -> Any:
    """Change a lead's name, phone, email, status or external ids.

    Only the fields sent change; a status change is recorded in its status history."""
    body: LeadPatch = request.context.json
    with get_db().session() as session:
        lead = own_lead(session, lead_id)
        actions = _patch_actions(session, lead, body.name, body.phone, body.email, body.status,
                                 body.external_ids)
    if actions:
        run_change(actions, "API: update lead")
    return _lead(lead_id)


@bp.post("/leads/batch/upsert")
@api_spec.validate(json=LeadBatch, headers=IdempotencyHeaders, tags=TAGS,
                   resp=responses(HTTP_200=UpsertAnswers, HTTP_409=ErrorBody))
def upsert_leads() -> Any:
    """Create or update up to 100 leads, each on its own.

    An item matches an existing lead by any of its `external_ids`, else by its phone. Each
    item gets its own answer, in order; one item's error does not stop the others."""
    body: LeadBatch = request.context.json
    with one_batch("api") as batch:  # the leads it creates: one summary text, at the end
        return {"data": [_upsert_one(index, item, batch)
                         for index, item in enumerate(body.leads)]}


def _upsert_one(index: int, item: LeadUpsert, batch: str) -> dict[str, Any]:
    try:
        with get_db().session() as session:
            phone = read_phone(item.phone) if item.phone is not None else None
            lead = external_id_owner(session, item.external_ids)
            if lead is None and phone is not None:
                lead = phone_owner(session, phone)
            if lead is None:
                if item.name is None:
                    raise ApiError(422, "a new lead needs a name", "name")
                action = _create_action(item.name, item.phone, item.email,
                                        item.status or "new", item.external_ids)
                action["alert_batch"] = batch
                lead_id, result, actions = None, "created", [action]
            else:
                lead_id, result = lead.id, "updated"
                actions = _patch_actions(session, lead, item.name, item.phone, item.email,
                                         item.status, item.external_ids or None)
        if not actions:
            return {"index": index, "result": "unchanged", "lead": _lead(lead_id),
                    "error": None}
        outcome = run_change(actions, "API: upsert lead")
        return {"index": index, "result": result,
                "lead": _lead(lead_id or outcome.effects[0]["lead_id"]), "error": None}
    except ApiError as exc:
        return {"index": index, "result": "error", "lead": None,
                "error": error_body(exc.status, exc.message, exc.field, exc.code)["error"]}


def _create_action(name: str, phone: str | None, email: str | None, status: str,
                   external_ids: dict[str, str]) -> dict[str, Any]:
    name = read_value("name", name)
    phone = read_phone(phone) if phone is not None else None
    email = read_value("email", email) if email is not None else None
    with get_db().session() as session:
        if phone is not None and (same := phone_owner(session, phone)) is not None:
            raise ApiError(409, f"lead {same.id} already has that phone", "phone")
        if (same := external_id_owner(session, external_ids)) is not None:
            raise ApiError(409, f"lead {same.id} already has that external id", "external_ids")
    return {"type": "create_lead", "name": name, "phone": phone, "email": email,
            "status": status, "external_ids": dict(external_ids)}


def _patch_actions(session: Any, lead: Lead, name: str | None, phone: str | None,
                   email: str | None, status: str | None,
                   external_ids: dict[str, str | None] | None) -> list[dict[str, Any]]:
    """The plan's actions for what actually changes (none when the lead is already so)."""
    details: dict[str, Any] = {}
    if name is not None and read_value("name", name) != lead.name:
        details["name"] = read_value("name", name)
    if phone is not None and (e164 := read_phone(phone)) != lead.phone:
        if (same := phone_owner(session, e164, other_than=lead.id)) is not None:
            raise ApiError(409, f"lead {same.id} already has that phone", "phone")
        details["phone"] = e164
    if email is not None and read_value("email", email) != lead.email:
        details["email"] = read_value("email", email)
    ids_now = dict(lead.external_ids or {})
    if external_ids:
        wanted = {**ids_now, **{k: v for k, v in external_ids.items() if v is not None}}
        for key in [k for k, v in external_ids.items() if v is None]:
            wanted.pop(key, None)
        if len(wanted) > 10:
            raise ApiError(422, "at most 10 external ids", "external_ids")
        added = {k: v for k, v in wanted.items() if ids_now.get(k) != v}
        if (same := external_id_owner(session, added, other_than=lead.id)) is not None:
            raise ApiError(409, f"lead {same.id} already has that external id", "external_ids")
        if wanted != ids_now:
            details["external_ids"] = external_ids
    actions: list[dict[str, Any]] = []
    if details:
        old = {field: getattr(lead, field) for field in details if field != "external_ids"}
        actions.append({"type": "update_lead", "lead_id": lead.id, "lead": lead.name,
                        **details, "old": old})
    if status is not None and status != lead.status:
        actions.append({"type": "update_status", "lead_id": lead.id, "lead": lead.name,
                        "status": status, "old_status": lead.status})
    return actions


def _lead(lead_id: int) -> dict[str, Any]:
    with get_db().session() as session:
        return lead_json(session.get_one(Lead, lead_id))
