"""How the CRM's rows look from outside: the JSON the API returns and webhooks carry.

One function per kind of object, so an event's `data` is exactly what `GET` would answer. Each
takes a model instance or a plain row of the model's table columns (the API's lists read those).
Instants are UTC ISO 8601 with a `Z` (millisecond precision); every object has `id`,
`created_at`, `updated_at` and `external_ids`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from db.models import Appointment, ClientInteraction, Lead, LeadHistory, WebhookEndpoint

# A follow-up's `state` as the API names it: an integration thinks "open", not "scheduled".
FOLLOW_UP_STATES = {"scheduled": "open", "done": "done", "cancelled": "cancelled"}
STORED_FOLLOW_UP_STATES = {api: stored for stored, api in FOLLOW_UP_STATES.items()}


def iso(moment: datetime | None) -> str | None:
    """`moment` in UTC as ISO 8601, e.g. '2026-03-05T21:00:00.000Z'."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "name": lead.name,
        "phone": lead.phone,
        "email": lead.email,
        "status": lead.status,
        "source": lead.source,
        "last_contacted_at": iso(lead.last_contacted),
        "external_ids": dict(lead.external_ids or {}),
        "created_at": iso(lead.created_at),
        "updated_at": iso(lead.updated_at),
    }


def interaction_json(interaction: ClientInteraction) -> dict[str, Any]:
    return {
        "id": interaction.id,
        "lead_id": interaction.lead_id,
        "type": interaction.type,
        "note": interaction.note,
        "occurred_at": iso(interaction.occurred_at),
        "channel": interaction.channel,
        "external_ids": dict(interaction.external_ids or {}),
        "created_at": iso(interaction.created_at),
        "updated_at": iso(interaction.updated_at),
    }


def follow_up_json(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.id,
        "lead_id": appointment.lead_id,
        "title": appointment.title,
        "due_at": iso(appointment.due_at),
        "state": FOLLOW_UP_STATES[appointment.state],
        "completed_at": iso(appointment.completed_at),
        "channel": appointment.channel,
        "external_ids": dict(appointment.external_ids or {}),
        "created_at": iso(appointment.created_at),
        "updated_at": iso(appointment.updated_at),
    }


def status_change_json(history: LeadHistory) -> dict[str, Any]:
    """A `lead_history` row. It is never changed once written, so it was created and last
    updated when the status changed."""
    changed = iso(history.changed_at)
    return {
        "id": history.id,
        "lead_id": history.lead_id,
        "old_status": history.old_status,
        "new_status": history.new_status,
        "changed_at": changed,
        "channel": history.channel,
        "external_ids": {},
        "created_at": changed,
        "updated_at": changed,
    }


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """A webhook endpoint, without its secret (shown once, when it is created)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": list(endpoint.events or []),
        "state": endpoint.state,
        "disabled_reason": endpoint.disabled_reason,
        "external_ids": dict(endpoint.external_ids or {}),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }
