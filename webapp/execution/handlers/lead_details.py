"""`update_lead`: a lead's name, phone, email or external ids, each change written to
`change_history`.

Values are validated again here, whatever channel made the plan: a phone must be E.164 and
valid, and no other lead of the agent's may have it; an email must look like one; a name must
not be empty. A field that changed since the plan was made fails the plan. `external_ids` (the
API) is merged into the lead's map: a name given None is removed.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from sqlalchemy import select

from db.models import ChangeHistory, Lead
from webapp.execution.handlers.base import (
    ActionHandler,
    Effect,
    PlanRejected,
    PlanRun,
    check_external_ids,
    require_free_external_ids,
)

FIELDS = ("name", "phone", "email")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def check_value(field: str, value: str) -> str:
    """`value` as stored, or PlanRejected saying what is wrong with it."""
    value = value.strip()
    if field == "name":
        if not value or len(value) > 200:
            raise PlanRejected("a lead's name must be 1 to 200 characters")
    elif field == "phone":
        try:
            valid = value.startswith("+") and phonenumbers.is_valid_number(
                phonenumbers.parse(value, None))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise PlanRejected(f"{value!r} is not a valid phone number")
    elif field == "email":
        if not EMAIL.fullmatch(value) or len(value) > 254:
            raise PlanRejected(f"{value!r} is not a valid email address")
        value = value.lower()
    return value


class UpdateLead(ActionHandler):
    type = "update_lead"
    undo_offer = "put {lead}'s {fields} back"
    undo_done = "put {lead}'s {fields} back"
    event = "lead.updated"
    undo_event = "lead.updated"

    def apply(self, run: PlanRun, action: dict[str, Any]) -> Effect:
        lead = run.own_lead(action["lead_id"])
        said = {f: action[f] for f in FIELDS if action.get(f) is not None}
        if not said and action.get("external_ids") is None:
            raise PlanRejected("nothing to change")
        expected = action.get("old") or {}
        for field in said:
            if field in expected and (getattr(lead, field) or None) != (expected[field] or None):
                raise PlanRejected(f"{lead.name}'s {field} changed meanwhile")
        new = {field: check_value(field, value) for field, value in said.items()}
        if "phone" in new:
            self._phone_is_free(run, lead, new["phone"])
        if action.get("external_ids") is not None:
            new["external_ids"] = self._merged_ids(run, lead, action["external_ids"])
        changes = {f: [getattr(lead, f), v] for f, v in new.items() if getattr(lead, f) != v}
        if "external_ids" in changes:
            changes["external_ids"][0] = dict(changes["external_ids"][0] or {})
        old_name = lead.name
        for field, (_, value) in changes.items():
            setattr(lead, field, value)
        history_id = None
        if changes:
            lead.updated_at = run.now
            history_id = self._record(run, lead, changes)
        return {"type": self.type, "lead_id": lead.id, "lead": old_name, "new_name": lead.name,
                "changes": changes, "fields": " and ".join(changes) or "details",
                "history_id": history_id}

    def undo(self, run: PlanRun, effect: Effect) -> None:
        lead = run.own_lead(effect["lead_id"])
        changes = effect["changes"]
        for field, (_, new) in changes.items():
            if getattr(lead, field) != new:
                raise PlanRejected(f"{lead.name}'s {field} changed since")
        if "phone" in changes and changes["phone"][0]:
            self._phone_is_free(run, lead, changes["phone"][0])
        if "external_ids" in changes:
            require_free_external_ids(run, changes["external_ids"][0], lead.id)
        for field, (old, _) in changes.items():
            setattr(lead, field, old)
        lead.updated_at = run.now
        self._record(run, lead, {f: [new, old] for f, (old, new) in changes.items()})

    def reverts(self, effect: Effect) -> bool:
        return bool(effect.get("changes"))

    def result_line(self, effect: Effect, zone: ZoneInfo) -> str:
        if not effect["changes"]:
            return f"{effect['lead']}'s details were already as said."
        said = "; ".join(f"{field} is now {new}" for field, (_, new) in effect["changes"].items())
        return f"Updated {effect['lead']}: {said}."

    @staticmethod
    def _merged_ids(run: PlanRun, lead: Lead, said: Any) -> dict[str, str]:
        """The lead's external ids with those said set (None removes one), each still free."""
        if not isinstance(said, dict):
            raise PlanRejected("external_ids must be a map")
        merged = {**(lead.external_ids or {}), **{k: v for k, v in said.items() if v is not None}}
        for key in [k for k, v in said.items() if v is None]:
            merged.pop(key, None)
        merged = check_external_ids(merged)
        require_free_external_ids(run, {k: v for k, v in merged.items()
                                        if (lead.external_ids or {}).get(k) != v}, lead.id)
        return merged

    @staticmethod
    def _phone_is_free(run: PlanRun, lead: Lead, phone: str) -> None:
        other = run.session.scalar(select(Lead.name).where(
            Lead.agent_id == run.agent.id, Lead.phone == phone, Lead.id != lead.id))
        if other is not None:
            raise PlanRejected(f"you already have a lead with that number ({other})")

    @staticmethod
    def _record(run: PlanRun, lead: Lead, changes: dict[str, list[Any]]) -> int:
        row = ChangeHistory(agent_id=run.agent.id, lead_id=lead.id, kind="lead.updated",
                            changes=changes, changed_at=run.now, channel=run.channel,
                            plan_id=run.plan_id)
        run.session.add(row)
        run.session.flush()
        return row.id
