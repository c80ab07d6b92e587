"""/api/v1/status_history: every status change of the agent's leads, from any channel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from sqlalchemy import select

from db.models import LeadHistory
from webapp.api.changes import agent
from webapp.api.paging import page
from webapp.api.schemas import LeadItemsQuery, StatusChangeList
from webapp.api.spec import api_spec, responses
from webapp.database import get_db
from webapp.integrations.representations import status_change_json

bp = Blueprint("status_history", __name__)


@bp.get("/status_history")
@api_spec.validate(query=LeadItemsQuery, resp=responses(HTTP_200=StatusChangeList),
                   tags=["status_history"])
def list_status_history() -> Any:
    """List status changes, oldest first (optionally one lead's).

    A change is never edited, so `updated_since` selects by when it happened."""
    query_in: LeadItemsQuery = request.context.query
    query = select(LeadHistory).where(LeadHistory.agent_id == agent().id)
    if query_in.lead_id is not None:
        query = query.where(LeadHistory.lead_id == query_in.lead_id)
    return page(get_db(), query, LeadHistory, limit=query_in.limit, after=query_in.after,
                updated_since=query_in.updated_since,
                updated_column=LeadHistory.changed_at, represent=status_change_json)
