"""/api/v1/webhooks: the agent's webhook endpoints — list, register, remove."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy import select

from db.models import WebhookEndpoint
from webapp.api.changes import agent, own
from webapp.api.errors import ApiError
from webapp.api.paging import page
from webapp.api.schemas import (
    ErrorBody,
    IdempotencyHeaders,
    ListQuery,
    NewWebhook,
    WebhookCreate,
    WebhookList,
)
from webapp.api.spec import api_spec, responses
from webapp.database import get_db
from webapp.integrations.delivery import DeliveryPolicy
from webapp.integrations.endpoints import EndpointError, register_endpoint
from webapp.integrations.representations import endpoint_json

bp = Blueprint("webhooks", __name__)
TAGS = ["webhooks"]


@bp.get("/webhooks")
@api_spec.validate(query=ListQuery, resp=responses(HTTP_200=WebhookList), tags=TAGS)
def list_webhooks() -> Any:
    """List webhook endpoints (without their secrets)."""
    query_in: ListQuery = request.context.query
    query = select(WebhookEndpoint).where(WebhookEndpoint.agent_id == agent().id)
    return page(get_db(), query, WebhookEndpoint, limit=query_in.limit,
                after=query_in.after, updated_since=query_in.updated_since,
                updated_column=WebhookEndpoint.updated_at, represent=endpoint_json)


@bp.post("/webhooks")
@api_spec.validate(json=WebhookCreate, headers=IdempotencyHeaders, tags=TAGS,
                   resp=responses(HTTP_201=NewWebhook, HTTP_409=ErrorBody))
def create_webhook() -> Any:
    """Register an endpoint for some events (`events`, default all).

    The answer carries the signing secret (`whsec_...`), shown this once. The URL must be
    http(s); it is checked again, on the address it resolves to, at every delivery."""
    body: WebhookCreate = request.context.json
    allow_private = DeliveryPolicy.from_config(current_app.config).allow_private
    with get_db().session() as session:
        try:
            endpoint = register_endpoint(session, agent().id, body.url, body.events,
                                         allow_private=allow_private,
                                         external_ids=body.external_ids)
        except EndpointError as exc:
            raise ApiError(422, str(exc), exc.field) from exc
        session.commit()
        return {**endpoint_json(endpoint), "secret": endpoint.secret}, 201


@bp.delete("/webhooks/<int:webhook_id>")
@api_spec.validate(resp=responses(HTTP_204=None, HTTP_404=ErrorBody), tags=TAGS)
def delete_webhook(webhook_id: int) -> Any:
    """Remove an endpoint; what was still waiting to be delivered to it is dropped."""
    with get_db().session() as session:
        session.delete(own(session, WebhookEndpoint, webhook_id, "webhook"))
        session.commit()
    return Response(status=204)
