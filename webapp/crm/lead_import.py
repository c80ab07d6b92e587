"""CSV import of an agent's leads: all rows or none.

A bad row (invalid phone, unknown status, missing name) is reported with its line number and
nothing of the file is imported; re-importing the same file adds nothing new. Each new lead is
announced to the agent's webhooks (`lead.created`) in the import's own transaction, and texted
to the agent (`lead_alerts`: one alert, or one summary for several).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Lead, User
from db.vocabulary import STATUSES
from webapp.crm.lead_alerts import add_alerts, new_batch
from webapp.integrations import outbox
from webapp.integrations.representations import lead_json
from webapp.phones import normalize_phone, region_of

EXPECTED_HEADER = ["name", "phone", "email", "status"]


@dataclass
class ImportResult:
    created: int = 0
    skipped: int = 0  # already present
    errors: list[str] = field(default_factory=list)


def normalize_status(raw: str) -> str | None:
    """'Closed Won', 'closed-won', '"new"' -> the stored form, or None if not a status."""
    cleaned = raw.strip().strip("'\"").lower().replace("-", "_").replace(" ", "_")
    return cleaned if cleaned in STATUSES else None


def _lead_key(name: str, phone: str | None, email: str | None) -> tuple[str, str]:
    """What makes two rows the same lead: the phone, else the email, else the name."""
    if phone:
        return ("phone", phone)
    if email:
        return ("email", email.lower())
    return ("name", name.casefold())


def import_leads(session: Session, agent: User, stream: TextIO, default_region: str
                 ) -> ImportResult:
    """Validate every row, then add the new ones (the caller commits only if no errors)."""
    result = ImportResult()
    region = region_of(agent.phone, default_region)
    reader = csv.reader(stream)
    header = next(reader, None)
    columns = [h.strip().lower() for h in header or []]
    if columns not in (EXPECTED_HEADER, EXPECTED_HEADER[:3]):
        result.errors.append("line 1: header must be name,phone,email,status (status optional)")
        return result

    existing = {
        _lead_key(lead.name, lead.phone, lead.email)
        for lead in session.scalars(select(Lead).where(Lead.agent_id == agent.id))
    }
    to_add: list[Lead] = []
    for line_no, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = (row + [""] * 4)[:4]
        name, raw_phone, email, raw_status = (c.strip() for c in cells)
        if len(row) > 4:
            result.errors.append(f"line {line_no}: too many columns")
            continue
        if not name:
            result.errors.append(f"line {line_no}: missing name")
            continue
        phone = None
        if raw_phone:
            try:
                phone = normalize_phone(raw_phone, region)
            except ValueError:
                result.errors.append(f"line {line_no}: invalid phone {raw_phone!r}")
                continue
        status = "new"
        if raw_status:
            status = normalize_status(raw_status) or ""
            if not status:
                result.errors.append(
                    f"line {line_no}: unknown status {raw_status!r} "
                    f"(use one of {', '.join(STATUSES)})"
                )
                continue
        if email and "@" not in email:
            result.errors.append(f"line {line_no}: invalid email {email!r}")
            continue
        key = _lead_key(name, phone, email or None)
        if key in existing:
            result.skipped += 1
            continue
        existing.add(key)
        to_add.append(
            Lead(agent_id=agent.id, name=name, phone=phone, email=email or None, status=status,
                 source="import")
        )
    if result.errors:
        return result
    session.add_all(to_add)
    session.flush()
    for lead in to_add:
        outbox.emit(session, agent.id, "lead.created", lead_json(lead), lead_id=lead.id)
    add_alerts(session, agent.id, [lead.id for lead in to_add], new_batch("import"))
    result.created = len(to_add)
    return result
