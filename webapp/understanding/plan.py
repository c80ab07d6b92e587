"""The plan schema shared by the rule parser, the LLM path, the conversation and the workers.

A plan is plain data: it is stored in Redis while it waits for YES, sent to a Celery task by id,
and printed by `assistant parse`. Keep it JSON-serializable (see `to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Literal, get_args, get_type_hints

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
    "login",
    "noop",
    "draft",
)

Kind = Literal[
    "plan", "confirm", "cancel", "help", "undo", "query", "clarify", "unknown_lead", "unknown",
    "done", "snooze", "login", "noop", "draft", "settings",
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


@dataclass(frozen=True)
class RescheduleFollowUp:
    """Move an open follow-up (and retitle it when a new purpose was said). The old values ride
    along so that execution can refuse a follow-up that changed meanwhile."""

    lead_id: int
    lead: str
    appointment_id: int
    due_at: datetime  # the new instant, timezone-aware
    title: str  # the follow-up's title after the change
    old_due_at: datetime
    old_title: str
    type: Literal["reschedule_follow_up"] = "reschedule_follow_up"


@dataclass(frozen=True)
class CancelFollowUp:
    """Mark an open follow-up cancelled (kept, never reminded)."""

    lead_id: int
    lead: str
    appointment_id: int
    title: str
    due_at: datetime  # as it is now: shown to the agent, checked again when the plan runs
    type: Literal["cancel_follow_up"] = "cancel_follow_up"


@dataclass(frozen=True)
class CompleteFollowUp:
    """Mark an open follow-up done."""

    lead_id: int
    lead: str
    appointment_id: int
    title: str
    due_at: datetime
    type: Literal["complete_follow_up"] = "complete_follow_up"


@dataclass(frozen=True)
class UpdateLead:
    """Change a lead's name, phone or email: only the fields said are set (None = unchanged).
    `old` holds the changed fields' values as they were read, for the meanwhile check."""

    lead_id: int
    lead: str  # the name before the change
    name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None
    old: tuple[tuple[str, str | None], ...] = ()  # ((field, value before), ...)
    type: Literal["update_lead"] = "update_lead"

    def changes(self) -> dict[str, str]:
        return {f: v for f in ("name", "phone", "email") if (v := getattr(self, f)) is not None}


@dataclass(frozen=True)
class SaveTemplate:
    """Save a note template (issue 19): `template` is its name, lowercase. `old_text` is its
    text when the plan was made (None: a new one), checked again when the plan runs."""

    template: str
    text: str
    old_text: str | None = None
    type: Literal["save_template"] = "save_template"


@dataclass(frozen=True)
class DeleteTemplate:
    """Delete a note template; `text` is what it said, shown to the agent."""

    template: str
    text: str
    type: Literal["delete_template"] = "delete_template"


def new_lead_ref(index: int) -> int:
    """The `lead_id` of an action about the lead that action `index` of the same plan creates
    ("New lead Marcus Bell ..., met him at the open house"): negative, since no row exists yet.
    Execution puts the new row's id in its place (`created_by`)."""
    return -(index + 1)


def created_by(lead_id: int | None) -> int | None:
    """The index of the create_lead action a `new_lead_ref` points at; None for a real id."""
    return -lead_id - 1 if isinstance(lead_id, int) and lead_id < 0 else None


@dataclass(frozen=True)
class UpdateSettings:
    """Turn the agent's own switches on or off (issue 19), e.g. {"nudges": False}. Never in a
    plan waiting for YES: the conversation runs it at once (see `understanding.settings`)."""

    settings: dict[str, bool]
    type: Literal["update_settings"] = "update_settings"


Action = (UpdateStatus | LogInteraction | ScheduleFollowUp | CreateLead | RescheduleFollowUp
          | CancelFollowUp | CompleteFollowUp | UpdateLead | SaveTemplate | DeleteTemplate
          | UpdateSettings)
FOLLOW_UP_CHANGES = (RescheduleFollowUp, CancelFollowUp, CompleteFollowUp)


def action_from_dict(data: dict) -> Action:
    """The action `action_to_dict` made (a plan waiting in Redis, to change and show again)."""
    cls = {c.__dataclass_fields__["type"].default: c for c in get_args(Action)}[data["type"]]
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        if f.name not in data or f.name == "type":
            continue
        value = data[f.name]
        if hints[f.name] in (datetime, datetime | None) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif f.name == "old" and isinstance(value, dict):
            value = tuple(value.items())
        kwargs[f.name] = value
    return cls(**kwargs)


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
    # For kind == "draft": {"lead_id", "lead", "about", "thank_you"} from the parser; the
    # conversation (or `assistant parse`) adds "subject" and "body" once the draft is written.
    draft: dict | None = None
    # For kind == "settings": the switches to set ({"nudges": False}); {} asks what they are.
    settings: dict | None = None

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
        if self.draft is not None:
            out["draft"] = self.draft
        if self.settings is not None:
            out["settings"] = self.settings
        return out


def action_to_dict(action: Action) -> dict:
    """The spec's action object (plus ids and the values before a change), instants as ISO 8601
    with the agent's offset; an update_lead carries only the fields it changes."""
    data = asdict(action)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    if isinstance(action, UpdateLead):
        data = {k: v for k, v in data.items() if v is not None or k not in ("name", "phone",
                                                                           "email")}
        data["old"] = dict(action.old)
    return data
