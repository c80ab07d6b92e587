"""The plan schema shared by the rule parser, the LLM path, the conversation and the workers.

A plan is plain data: it is stored in Redis while it waits for YES, sent to a Celery task by id,
and printed by `assistant parse`. Keep it JSON-serializable (see `to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Literal

KINDS: tuple[str, ...] = (
    "plan",
    "confirm",
    "cancel",
    "help",
    "undo",
    "query",
    "clarify",
    "unknown_lead",
    "unknown",
    "done",
    "snooze",
)

Kind = Literal[
    "plan", "confirm", "cancel", "help", "undo", "query", "clarify", "unknown_lead", "unknown",
    "done", "snooze",
]


@dataclass(frozen=True)
class LeadRef:
    """What the parser knows of one of the agent's leads."""

    id: int
    name: str
    status: str = "new"
    phone: str | None = None


@dataclass(frozen=True)
class UpdateStatus:
    lead_id: int
    lead: str
    status: str
    old_status: str | None = None
    type: Literal["update_status"] = "update_status"


@dataclass(frozen=True)
class LogInteraction:
    lead_id: int
    lead: str
    interaction_type: str
    note: str
    type: Literal["log_interaction"] = "log_interaction"


@dataclass(frozen=True)
class ScheduleFollowUp:
    lead_id: int
    lead: str
    due_at: datetime  # timezone-aware, in the agent's zone
    title: str
    type: Literal["schedule_follow_up"] = "schedule_follow_up"


@dataclass(frozen=True)
class CreateLead:
    name: str
    phone: str | None
    email: str | None
    type: Literal["create_lead"] = "create_lead"


Action = UpdateStatus | LogInteraction | ScheduleFollowUp | CreateLead


@dataclass
class Plan:
    """The parser's answer for one message."""

    kind: Kind
    reply: str
    actions: list[Action] = field(default_factory=list)
    # For kind == "clarify": what the question is about, so "1" / "John Doe" can continue it.
    clarify: dict | None = None
    # For kind == "query": which question, so the conversation can answer it from the database.
    query: dict | None = None
    # Lead ids named in this message, for pronouns in the agent's next message.
    mentioned_lead_ids: list[int] = field(default_factory=list)
    # For kind == "done" / "snooze" (a reply to a reminder text): {"number": int | None} and,
    # for snooze, "due_at" (ISO 8601 with the agent's offset). number None = the latest reminder.
    reminder: dict | None = None

    def to_dict(self, message: str | None = None) -> dict:
        out: dict = {}
        if message is not None:
            out["message"] = message
        out["kind"] = self.kind
        out["actions"] = [action_to_dict(a) for a in self.actions]
        out["reply"] = self.reply
        if self.clarify is not None:
            out["clarify"] = self.clarify
        if self.query is not None:
            out["query"] = self.query
        if self.reminder is not None:
            out["reminder"] = self.reminder
        return out


def action_to_dict(action: Action) -> dict:
    """The spec's action object (plus lead_id/old_status), with due_at as ISO 8601 + offset."""
    data = asdict(action)
    if isinstance(action, ScheduleFollowUp):
        data["due_at"] = action.due_at.isoformat()
    return data
