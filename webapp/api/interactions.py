"""/api/v1/interactions: calls, meetings, viewings, emails, texts and notes — list and log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from db.models import ClientInteraction
from webapp.api.changes import agent, own_lead, run_change
from webapp.api.paging import page
from webapp.api.schemas import (
    ErrorBody,
    IdempotencyHeaders,
    Interaction,
    InteractionCreate,
    InteractionList,
    LeadItemsQuery,
)
from webapp.api.spec import api_spec, responses
from webapp.database import get_db
from webapp.integrations.representations import interaction_json

bp = Blueprint("interactions", __name__)
TAGS = ["interactions"]


@bp.get("/interactions")
@api_spec.validate(query=LeadItemsQuery, resp=responses(HTTP_200=InteractionList), tags=TAGS)
def list_interactions() -> Any:
    """List interactions, oldest first (optionally one lead's)."""
    query_in: LeadItemsQuery = request.context.query
    query = select(ClientInteraction).where(ClientInteraction.agent_id == agent().id)
    if query_in.lead_id is not None:
        query = query.where(ClientInteraction.lead_id == query_in.lead_id)
    return page(get_db(), query, ClientInteraction, limit=query_in.limit,
                after=query_in.after, updated_since=query_in.updated_since,
                updated_column=ClientInteraction.updated_at, represent=interaction_json)


@bp.post("/interactions")
@api_spec.validate(json=InteractionCreate, headers=IdempotencyHeaders, tags=TAGS,
                   resp=responses(HTTP_201=Interaction, HTTP_404=ErrorBody,
                                  HTTP_409=ErrorBody))
def create_interaction() -> Any:
    """Log an interaction with a lead.

    `occurred_at` (default now) may be in the past, not in the future; every type but a note
    counts as contact and moves the lead's `last_contacted_at` forward."""
    body: InteractionCreate = request.context.json
    with get_db().session() as session:
        lead = own_lead(session, body.lead_id, "lead_id")
        lead_name = lead.name
    action = {"type": "log_interaction", "lead_id": body.lead_id, "lead": lead_name,
              "interaction_type": body.type, "note": body.note,
              "occurred_at": body.occurred_at.isoformat() if body.occurred_at else None,
              "external_ids": dict(body.external_ids)}
    outcome = run_change([action], "API: log interaction")
    with get_db().session() as session:
        row = session.get_one(ClientInteraction, outcome.effects[0]["interaction_id"])
        return interaction_json(row), 201
