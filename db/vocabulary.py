"""The CRM's fixed words: statuses, interaction types, channels and row states.

Here, beside the models, because the tables' CHECK constraints are built from them; the parser,
the conversation and the workers read them from here too, so one list is the truth everywhere.
"""

from __future__ import annotations

# A lead's pipeline status, in the order agents read the pipeline.
STATUSES: tuple[str, ...] = (
    "new",
    "contacted",
    "qualified",
    "negotiating",
    "closed_won",
    "closed_lost",
    "follow_up",
)
INTERACTION_TYPES: tuple[str, ...] = ("call", "meeting", "viewing", "email", "text", "note")
# Where a change came from (audit rows, interactions, follow-ups, plans, a lead's source).
CHANNELS: tuple[str, ...] = ("sms", "voice", "cli", "web", "api", "import")
APPOINTMENT_STATES: tuple[str, ...] = ("scheduled", "done", "cancelled")
PLAN_STATES: tuple[str, ...] = ("confirmed", "executed", "failed")
MESSAGE_DIRECTIONS: tuple[str, ...] = ("inbound", "outbound")
# What `change_history` records about a lead's details or a follow-up.
CHANGE_KINDS: tuple[str, ...] = (
    "lead.updated",  # name, phone or email
    "follow_up.rescheduled",  # due_at (and title, when a new purpose was said)
    "follow_up.cancelled",
    "follow_up.completed",
    "follow_up.reopened",  # an undo of a cancel or a completion
)

# What the integration API's webhooks announce (see webapp/integrations/outbox.py). The last
# three come only from an UNDO, so a system kept in sync can follow a change being taken back.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "lead.created",
    "lead.updated",
    "lead.status_changed",
    "interaction.created",
    "follow_up.created",
    "follow_up.rescheduled",
    "follow_up.completed",
    "follow_up.cancelled",
    "follow_up.reopened",
    "lead.deleted",
    "interaction.deleted",
)
WEBHOOK_ENDPOINT_STATES: tuple[str, ...] = ("active", "disabled")
# An outbox row's life: pending -> delivering -> delivered, or back to pending to retry, or
# failed once retries ran out (re-sendable from the CLI).
WEBHOOK_DELIVERY_STATES: tuple[str, ...] = ("pending", "delivering", "delivered", "failed")
