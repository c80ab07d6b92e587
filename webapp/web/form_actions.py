"""The lead page's forms as plan actions: the same dicts `action_to_dict` makes for a text.

Each builder checks what a form can get wrong (a missing title, a time in the past, a phone
that is no number) and raises `FormError` with words for the agent; everything else is the
handlers' business, exactly as for a plan confirmed by YES. Values the page showed (the status,
a follow-up's time and title, the phone and email) ride along as the "old" values, so a change
made meanwhile by text or in another tab fails the plan instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from db.models import Appointment, Lead
from db.vocabulary import INTERACTION_TYPES, STATUSES
from webapp.phones import InvalidPhone, normalize_phone
from webapp.understanding.templates import expand_note

MAX_NOTE = 2000
MAX_TITLE = 300


class FormError(ValueError):
    """What is wrong with the form, said to the agent; nothing was changed."""


def _text(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def status_change(form: Mapping[str, str], lead: Lead) -> dict[str, Any]:
    status = _text(form, "status")
    if status not in STATUSES:
        raise FormError("Pick one of the statuses.")
    old = _text(form, "old_status") or None
    if old == status:
        raise FormError(f"{lead.name} is already {status.replace('_', ' ')}.")
    return {"type": "update_status", "lead_id": lead.id, "lead": lead.name, "status": status,
            "old_status": old}


def interaction(form: Mapping[str, str], lead: Lead,
                templates: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`templates`: the agent's note templates, written out as in a text ("lv")."""
    kind = _text(form, "interaction_type")
    if kind not in INTERACTION_TYPES:
        raise FormError("Pick what kind of interaction it was.")
    note = _text(form, "note")
    if templates:
        note = expand_note(note, templates)
    if len(note) > MAX_NOTE:
        raise FormError(f"The note is longer than {MAX_NOTE} characters.")
    if kind == "note" and not note:
        raise FormError("Write the note first.")
    return {"type": "log_interaction", "lead_id": lead.id, "lead": lead.name,
            "interaction_type": kind, "note": note}


def due_from_form(form: Mapping[str, str], zone: ZoneInfo, now: datetime) -> datetime:
    """The local date and time fields as an instant in the agent's zone, in the future."""
    try:
        day = date.fromisoformat(_text(form, "date"))
        clock = time.fromisoformat(_text(form, "time") or "10:00")
    except ValueError as exc:
        raise FormError("Give the date as YYYY-MM-DD and the time as HH:MM.") from exc
    due = datetime.combine(day, clock.replace(second=0, microsecond=0), tzinfo=zone)
    if due <= now:
        raise FormError("That time is already past; pick a later one.")
    return due


def new_follow_up(form: Mapping[str, str], lead: Lead, zone: ZoneInfo,
                  now: datetime) -> dict[str, Any]:
    title = _text(form, "title") or f"Follow up with {lead.name}"
    if len(title) > MAX_TITLE:
        raise FormError(f"The title is longer than {MAX_TITLE} characters.")
    due = due_from_form(form, zone, now)
    return {"type": "schedule_follow_up", "lead_id": lead.id, "lead": lead.name,
            "due_at": due.isoformat(), "title": title}


def _shown(form: Mapping[str, str]) -> tuple[str, str]:
    """The follow-up's due time and title as the page showed them."""
    due, title = _text(form, "shown_due_at"), form.get("shown_title") or ""
    try:
        datetime.fromisoformat(due)
    except ValueError as exc:
        raise FormError("The form was incomplete; reload the page and try again.") from exc
    return due, title


def reschedule(form: Mapping[str, str], lead: Lead, appointment: Appointment, zone: ZoneInfo,
               now: datetime) -> dict[str, Any]:
    old_due, old_title = _shown(form)
    due = due_from_form(form, zone, now)
    return {"type": "reschedule_follow_up", "lead_id": lead.id, "lead": lead.name,
            "appointment_id": appointment.id, "due_at": due.isoformat(), "title": old_title,
            "old_due_at": old_due, "old_title": old_title}


def close_follow_up(form: Mapping[str, str], lead: Lead, appointment: Appointment,
                    done: bool) -> dict[str, Any]:
    due, title = _shown(form)
    return {"type": "complete_follow_up" if done else "cancel_follow_up", "lead_id": lead.id,
            "lead": lead.name, "appointment_id": appointment.id, "title": title, "due_at": due}


def details(form: Mapping[str, str], lead: Lead, region: str) -> dict[str, Any]:
    """An update_lead with only the fields that differ from what the page showed (the hidden
    `shown_<field>` inputs hold the stored values: E.164 for the phone)."""
    action: dict[str, Any] = {"type": "update_lead", "lead_id": lead.id, "lead": lead.name}
    old: dict[str, str | None] = {}
    for field in ("name", "phone", "email"):
        if field not in form:
            continue
        new, shown = _text(form, field), _text(form, f"shown_{field}")
        if new == shown:
            continue
        if not new:
            raise FormError(f"A lead's {field} can be changed here, not removed.")
        if field == "phone":
            try:
                new = normalize_phone(new, region)
            except InvalidPhone as exc:
                raise FormError(f"{new} is not a valid phone number.") from exc
            if new == shown:
                continue
        action[field] = new
        old[field] = shown or None
    if not old:
        raise FormError("Nothing was changed.")
    action["old"] = old
    return action
