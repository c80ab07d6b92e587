"""The API's request and response bodies as pydantic models: spectree validates requests and
responses with them and writes the OpenAPI description from them, so the two cannot disagree.

Objects are built by `webapp.integrations.representations` (shared with webhook payloads) and
checked against these models on the way out.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from db.vocabulary import INTERACTION_TYPES, STATUSES, WEBHOOK_EVENT_TYPES

Status = Literal[STATUSES]  # type: ignore[valid-type]
InteractionType = Literal[INTERACTION_TYPES]  # type: ignore[valid-type]
EventType = Literal[WEBHOOK_EVENT_TYPES]  # type: ignore[valid-type]
FollowUpState = Literal["open", "done", "cancelled"]

# Text may hold anything but NUL (which PostgreSQL cannot store); names and titles need one
# character that is not blank.
TEXT = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}$")]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK)]
# Keys must match the pattern: said in the schema too, or a client would think any key goes.
ONLY_PATTERN_KEYS = {"additionalProperties": False}
ExternalIds = Annotated[dict[SystemName, ExternalId], Field(
    max_length=10, description='Ids of this object in other systems, e.g. {"fub": "123"}.',
    json_schema_extra=ONLY_PATTERN_KEYS)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK)]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=TEXT), Field(
    description="Any common format; stored as E.164, read in the agent's country when it "
                "has no country code.")]
Email = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=TEXT)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=NOT_BLANK)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=TEXT)]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]

_ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_8601_only(value: object) -> object:
    """Instants come as ISO 8601 text (pydantic would also take a number as Unix time)."""
    if not isinstance(value, str) or not _ISO_8601.match(value):
        raise ValueError("must be an ISO 8601 date and time with an offset, "
                         "e.g. 2026-03-05T15:00:00-06:00")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_8601_only)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors --------------------------------------------------------------------------------

class ErrorDetail(BaseModel):
    code: str = Field(description="A stable word: unauthorized, not_found, invalid, conflict, "
                                  "bad_request, rate_limited, idempotency_conflict.")
    message: str
    field: str | None = Field(description="The input at fault, when there is one.")


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- objects -------------------------------------------------------------------------------

class Paging(BaseModel):
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class Lead(BaseModel):
    id: int
    name: str
    phone: str | None = Field(description="E.164")
    email: str | None
    status: Status
    source: str | None = Field(description="The channel it came through (sms, voice, web, api, "
                                           "import, cli), when known.")
    last_contacted_at: datetime | None
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class Interaction(BaseModel):
    id: int
    lead_id: int
    type: InteractionType
    note: str
    occurred_at: datetime
    channel: str
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class FollowUp(BaseModel):
    id: int
    lead_id: int
    title: str
    due_at: datetime
    state: FollowUpState
    completed_at: datetime | None
    channel: str
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class StatusChange(BaseModel):
    id: int
    lead_id: int
    old_status: Status | None
    new_status: Status
    changed_at: datetime
    channel: str
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class Webhook(BaseModel):
    id: int
    url: str
    events: list[EventType] = Field(description="Empty: every event.")
    state: Literal["active", "disabled"]
    disabled_reason: str | None
    external_ids: dict[str, str]
    created_at: datetime
    updated_at: datetime


class NewWebhook(Webhook):
    secret: str = Field(description="The signing secret (whsec_...). Shown only here, once.")


class LeadList(BaseModel):
    data: list[Lead]
    paging: Paging


class InteractionList(BaseModel):
    data: list[Interaction]
    paging: Paging


class FollowUpList(BaseModel):
    data: list[FollowUp]
    paging: Paging


class StatusChangeList(BaseModel):
    data: list[StatusChange]
    paging: Paging


class WebhookList(BaseModel):
    data: list[Webhook]
    paging: Paging


# --- queries -------------------------------------------------------------------------------

class ListQuery(Strict):
    """An unknown parameter is refused (400): a misspelt filter must not list everything."""

    updated_since: Instant | None = Field(
        None, description="Only objects created or changed at or after this instant "
                          "(ISO 8601 with an offset).")
    limit: int = Field(50, ge=1, le=100)
    after: Cursor | None = Field(None, description="The `paging.next` of the previous page.")


class LeadListQuery(ListQuery):
    external_id: Annotated[str, StringConstraints(
        pattern=r"^[a-z0-9][a-z0-9_.-]{0,39}:[^\x00]{1,200}$")] | None = Field(
        None, description="`system:id`, e.g. `fub:123`.")
    phone: Phone | None = None
    status: Status | None = None


class LeadItemsQuery(ListQuery):
    lead_id: Id | None = Field(None, description="Only this lead's.")


class IdempotencyHeaders(BaseModel):
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255,
                                                      pattern=TEXT)] | None = (
        Field(None, alias="Idempotency-Key",
              description="Retrying a POST with the same key and body within 24 hours returns "
                          "the first answer and does nothing again."))


# --- writes --------------------------------------------------------------------------------

class LeadCreate(Strict):
    name: Name
    phone: Phone | None = None
    email: Email | None = None
    status: Status = "new"
    external_ids: ExternalIds = Field(default_factory=dict)
    note: Note = Field("", description="What the lead asked or said: logged as the lead's first "
                                       "note, and texted to the agent with the new lead.")


class LeadPatch(Strict):
    name: Name = None  # type: ignore[assignment]  (absent: unchanged; null is refused)
    phone: Phone = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]
    status: Status = None  # type: ignore[assignment]
    external_ids: Annotated[dict[SystemName, ExternalId | None], Field(
        max_length=10, description="Merged into the lead's; an id set to null is removed.",
        json_schema_extra=ONLY_PATTERN_KEYS)] = None  # type: ignore[assignment]


class LeadUpsert(Strict):
    """Matched to an existing lead by any of its `external_ids`, else by `phone`; created when
    none matches (then `name` is required)."""

    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    status: Status | None = None
    external_ids: ExternalIds = Field(default_factory=dict)


class LeadBatch(Strict):
    leads: list[LeadUpsert] = Field(min_length=1, max_length=100)


class UpsertAnswer(BaseModel):
    index: int
    result: Literal["created", "updated", "unchanged", "error"]
    lead: Lead | None
    error: ErrorDetail | None


class UpsertAnswers(BaseModel):
    data: list[UpsertAnswer]


class InteractionCreate(Strict):
    lead_id: Id
    type: InteractionType
    note: Note = ""
    occurred_at: Instant | None = Field(None, description="Default: now. Not in the "
                                                                "future.")
    external_ids: ExternalIds = Field(default_factory=dict)


class FollowUpCreate(Strict):
    lead_id: Id
    title: Title
    due_at: Instant = Field(description="In the future, with an offset.")
    external_ids: ExternalIds = Field(default_factory=dict)


class FollowUpPatch(Strict):
    due_at: Instant = None  # type: ignore[assignment]
    title: Title = None  # type: ignore[assignment]
    state: FollowUpState = None  # type: ignore[assignment]


class WebhookCreate(Strict):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT)]
    events: list[EventType] = Field(default_factory=list, max_length=len(WEBHOOK_EVENT_TYPES))
    external_ids: ExternalIds = Field(default_factory=dict)
