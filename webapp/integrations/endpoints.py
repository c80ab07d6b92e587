"""Webhook endpoints: registering one (with its signing secret) and removing it."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import WebhookEndpoint
from db.vocabulary import WEBHOOK_EVENT_TYPES
from webapp.integrations.addresses import BlockedAddress, check_url
from webapp.integrations.outbox import forget_endpoints

MAX_ENDPOINTS_PER_AGENT = 20


class EndpointError(ValueError):
    """The endpoint cannot be registered as asked; `field` names the input at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def new_secret() -> str:
    """A Standard Webhooks signing secret: 'whsec_' and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_events(events: Iterable[str]) -> list[str]:
    """The event types asked for, each one known; empty means every event."""
    chosen = list(dict.fromkeys(e.strip() for e in events if e.strip()))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENT_TYPES]
    if unknown:
        raise EndpointError(f"unknown event {unknown[0]!r}; known: "
                            + ", ".join(WEBHOOK_EVENT_TYPES), "events")
    return chosen


def register_endpoint(session: Session, agent_id: int, url: str, events: Iterable[str], *,
                      allow_private: bool, external_ids: dict[str, str] | None = None
                      ) -> WebhookEndpoint:
    """Add an active endpoint for the agent (flushed; the caller commits). Its `secret` is on
    the returned row: show it to the person once."""
    try:
        url = check_url(url, allow_private)
    except BlockedAddress as exc:
        raise EndpointError(str(exc), "url") from exc
    if len(url) > 2000:
        raise EndpointError("the URL is longer than 2000 characters", "url")
    chosen = check_events(events)
    count = session.scalar(select(func.count()).select_from(WebhookEndpoint)
                           .where(WebhookEndpoint.agent_id == agent_id))
    if count >= MAX_ENDPOINTS_PER_AGENT:
        raise EndpointError(f"at most {MAX_ENDPOINTS_PER_AGENT} endpoints per agent", "url")
    endpoint = WebhookEndpoint(agent_id=agent_id, url=url, secret=new_secret(), events=chosen,
                               state="active", external_ids=dict(external_ids or {}))
    session.add(endpoint)
    session.flush()
    forget_endpoints(session)
    return endpoint
