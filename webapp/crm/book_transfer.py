"""Moving an agent's whole book in and out as JSON (the spec's "Moving a book in and out").

    {"leads": [{"name", "phone", "email", "status", "created_at", "last_contacted"}],
     "interactions": [{"lead", "type", "note", "at"}],
     "follow_ups": [{"lead", "title", "due_at", "state"}],
     "status_history": [{"lead", "old", "new", "at"}],
     "templates": [{"name", "text"}]}        <- optional (issue 19)

Times are ISO 8601 with the agent's UTC offset at that instant; `state` is open, done or
cancelled. `lead` names a lead by its full name as stored; where two of the agent's leads share
a name, the export names each of them by phone instead (an import accepts either).

Import is all or nothing: every record is checked first and a bad one is reported with its
place (`follow_ups[3].due_at: ...`); only a book without errors is written, in one transaction.
Leads are matched by phone, else by name, and a matched lead takes the file's values;
interactions, follow-ups and history rows already there (same lead, same instant, same content)
are not added again, so importing the same file twice changes nothing, and an export imported
into an empty book exports the same JSON again.

`templates`, the agent's note templates, is there only when the agent has some, so a book
without templates exports exactly as before, and a file without the section imports as before.
A template is matched by name and takes the file's text; its name must follow the same rules as
by text (one word, no command word, no word of a lead's name, the file's leads included).

What an import adds or changes is announced to the agent's webhooks (`lead.created`,
`lead.updated`, `lead.status_changed`, `interaction.created`, `follow_up.created`) through the
outbox, in the import's own transaction. Status history rows are the past: not announced.
The leads it adds are texted to the agent (`lead_alerts`: one alert, or one summary for
several), as leads from any channel but the agent's own are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from db.models import (
    Appointment,
    ChangeHistory,
    ClientInteraction,
    Lead,
    LeadHistory,
    NoteTemplate,
    User,
)
from db.vocabulary import INTERACTION_TYPES, STATUSES
from webapp.crm.lead_alerts import add_alerts, new_batch
from webapp.crm.note_templates import templates_of
from webapp.integrations import outbox
from webapp.integrations.representations import follow_up_json, interaction_json, lead_json
from webapp.phones import InvalidPhone, normalize_phone, region_of
from webapp.understanding.templates import (
    MAX_TEMPLATES,
    MAX_TEXT,
    clean_text,
    lead_name_words,
    name_problem,
)

STATES_OUT = {"scheduled": "open", "done": "done", "cancelled": "cancelled"}
STATES_IN = {v: k for k, v in STATES_OUT.items()}
SECTIONS = ("leads", "interactions", "follow_ups", "status_history")
OPTIONAL_SECTIONS = ("templates",)  # issue 19: exported only when there are some
MAX_TITLE = 300
MAX_NAME = 200


# --- export ------------------------------------------------------------------------------------


def export_book(session: Session, agent: User) -> dict[str, list[dict[str, Any]]]:
    """The agent's whole book, in a stable order (so equal books export equal JSON); the
    note templates only when there are some."""
    zone = ZoneInfo(agent.timezone)
    leads = list(session.scalars(
        select(Lead).where(Lead.agent_id == agent.id)
        .order_by(Lead.created_at, Lead.name, Lead.phone, Lead.id)))
    shared = {name for name, n in Counter(lead.name for lead in leads).items() if n > 1}
    ref = {lead.id: (lead.phone if lead.name in shared and lead.phone else lead.name)
           for lead in leads}

    def at(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat() if moment is not None else None

    interactions = session.execute(
        select(ClientInteraction).where(ClientInteraction.agent_id == agent.id)
        .order_by(ClientInteraction.occurred_at, ClientInteraction.id)).scalars()
    follow_ups = session.execute(
        select(Appointment).where(Appointment.agent_id == agent.id)
        .order_by(Appointment.due_at, Appointment.id)).scalars()
    history = session.execute(
        select(LeadHistory).where(LeadHistory.agent_id == agent.id)
        .order_by(LeadHistory.changed_at, LeadHistory.id)).scalars()
    book = {
        "leads": [{"name": lead.name, "phone": lead.phone, "email": lead.email,
                   "status": lead.status, "created_at": at(lead.created_at),
                   "last_contacted": at(lead.last_contacted)} for lead in leads],
        "interactions": [{"lead": ref[i.lead_id], "type": i.type, "note": i.note,
                          "at": at(i.occurred_at)} for i in interactions],
        "follow_ups": [{"lead": ref[a.lead_id], "title": a.title, "due_at": at(a.due_at),
                        "state": STATES_OUT[a.state]} for a in follow_ups],
        "status_history": [{"lead": ref[h.lead_id], "old": h.old_status, "new": h.new_status,
                            "at": at(h.changed_at)} for h in history],
    }
    templates = templates_of(session, agent.id)
    if templates:
        book["templates"] = [{"name": name, "text": text} for name, text in templates.items()]
    return book


# --- import ------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, with `errors`, why it did nothing)."""

    errors: list[str] = field(default_factory=list)
    leads_added: int = 0
    leads_updated: int = 0
    leads_unchanged: int = 0
    added: Counter = field(default_factory=Counter)  # interactions, follow_ups, status_history
    already_there: Counter = field(default_factory=Counter)
    new_lead_ids: list[int] = field(default_factory=list)
    templates_given: bool = False  # the file had a templates section
    templates_updated: int = 0

    def summary(self) -> str:
        if self.errors:
            return f"{len(self.errors)} error(s); nothing was imported"
        parts = [f"leads: {self.leads_added} added, {self.leads_updated} updated, "
                 f"{self.leads_unchanged} unchanged"]
        for section in SECTIONS[1:]:
            parts.append(f"{section.replace('_', ' ')}: {self.added[section]} added, "
                         f"{self.already_there[section]} already there")
        if self.templates_given:
            parts.append(f"templates: {self.added['templates']} added, "
                         f"{self.templates_updated} updated, "
                         f"{self.already_there['templates']} already there")
        return "; ".join(parts)


class _Checked:
    """Accumulates errors with their place while records are read."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, place: str, why: str) -> None:
        self.errors.append(f"{place}: {why}")

    def text(self, record: dict, key: str, place: str, *, required: bool = True,
             limit: int | None = None) -> str | None:
        value = record.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(f"{place}.{key}", "is required")
            return None
        if not isinstance(value, str):
            self.fail(f"{place}.{key}", "must be a string")
            return None
        value = value.strip()
        if limit is not None and len(value) > limit:
            self.fail(f"{place}.{key}", f"is longer than {limit} characters")
            return None
        return value

    def instant(self, record: dict, key: str, place: str, *, required: bool = True
                ) -> datetime | None:
        raw = record.get(key)
        if raw is None:
            if required:
                self.fail(f"{place}.{key}", "is required")
            return None
        try:
            moment = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            moment = None
        if moment is None:
            self.fail(f"{place}.{key}", f"{raw!r} is not an ISO 8601 time")
            return None
        if moment.tzinfo is None:
            self.fail(f"{place}.{key}", f"{raw!r} has no UTC offset")
            return None
        return moment

    def word(self, record: dict, key: str, place: str, allowed: tuple[str, ...] | dict,
             *, required: bool = True) -> str | None:
        value = record.get(key)
        if value is None and not required:
            return None
        if value not in allowed:
            self.fail(f"{place}.{key}", f"{value!r} is not one of {', '.join(allowed)}")
            return None
        return value


@dataclass
class _LeadIn:
    place: str
    name: str
    phone: str | None
    email: str | None
    status: str
    created_at: datetime | None
    last_contacted: datetime | None
    given: set[str]  # the keys the record gave (a matched lead takes only those)
    lead: Lead | None = None  # the existing lead it matched, if any


def import_book(session: Session, agent: User, book: Any, default_region: str
                ) -> ImportReport:
    """Check `book` (the parsed JSON) and, when nothing is wrong with it, write it into the
    agent's book. The caller commits when the report has no errors (and must not otherwise)."""
    report = ImportReport()
    check = _Checked()
    if not isinstance(book, dict):
        report.errors.append("the file must hold a JSON object with leads, interactions, "
                             "follow_ups and status_history")
        return report
    for key in book:
        if key not in SECTIONS + OPTIONAL_SECTIONS:
            check.fail(key, f"unknown section (expected {', '.join(SECTIONS)}; optionally "
                            f"{', '.join(OPTIONAL_SECTIONS)})")
    sections = {}
    for section in SECTIONS:
        records = book.get(section, [])
        if not isinstance(records, list):
            check.fail(section, "must be a list")
            records = []
        sections[section] = records
    region = region_of(agent.phone, default_region)
    existing = list(session.scalars(select(Lead).where(Lead.agent_id == agent.id)))
    leads_in = _read_leads(sections["leads"], existing, region, check)
    resolve = _lead_resolver(leads_in, existing)
    interactions = _read_records(sections["interactions"], "interactions", resolve, check,
                                 _read_interaction)
    follow_ups = _read_records(sections["follow_ups"], "follow_ups", resolve, check,
                               _read_follow_up)
    history = _read_records(sections["status_history"], "status_history", resolve, check,
                            _read_history)
    templates = None
    if "templates" in book:
        lead_words = lead_name_words([lead.name for lead in existing]
                                     + [entry.name for entry in leads_in])
        templates = _read_templates(book["templates"], session, agent, lead_words, check)
    if check.errors:
        report.errors = check.errors
        return report
    _write_leads(session, agent, leads_in, report)
    lead_id = {key: (target if isinstance(target, int) else target.lead.id)
               for key, target in resolve.targets.items()}
    _write(session, agent, report, "interactions", interactions, lead_id)
    _write(session, agent, report, "follow_ups", follow_ups, lead_id)
    _write(session, agent, report, "status_history", history, lead_id)
    if templates is not None:
        _write_templates(session, agent, templates, report)
    add_alerts(session, agent.id, report.new_lead_ids, new_batch("import"))
    session.flush()
    return report


def _read_templates(records: Any, session: Session, agent: User, lead_words: set[str],
                    check: _Checked) -> dict[str, str]:
    """The file's templates, name -> text, each checked as a template saved by text is."""
    if not isinstance(records, list):
        check.fail("templates", "must be a list")
        return {}
    out: dict[str, str] = {}
    for i, record in enumerate(records):
        place = f"templates[{i}]"
        if not isinstance(record, dict):
            check.fail(place, "must be an object")
            continue
        name = check.text(record, "name", place, limit=20)
        text = check.text(record, "text", place, limit=MAX_TEXT)
        if name is None or text is None:
            continue
        name = name.lower()
        problem = name_problem(name, None)
        if problem is None and name in lead_words:
            problem = f'"{name}" is in the name of one of the leads'
        if problem is not None:
            check.fail(f"{place}.name", problem.removesuffix(" Pick another name.").rstrip("."))
        elif name in out:
            check.fail(f"{place}.name", f'"{name}" is in the file twice')
        else:
            out[name] = clean_text(text)
    there = templates_of(session, agent.id)
    if len(set(there) | set(out)) > MAX_TEMPLATES:
        check.fail("templates", f"an agent may have at most {MAX_TEMPLATES} templates")
    return out


def _write_templates(session: Session, agent: User, templates: dict[str, str],
                     report: ImportReport) -> None:
    """Add the file's templates; one already there takes the file's text."""
    report.templates_given = True
    rows = {row.name: row for row in session.scalars(
        select(NoteTemplate).where(NoteTemplate.agent_id == agent.id))}
    for name, text in templates.items():
        row = rows.get(name)
        if row is None:
            session.add(NoteTemplate(agent_id=agent.id, name=name, text=text))
            report.added["templates"] += 1
        elif row.text != text:
            row.text = text
            report.templates_updated += 1
        else:
            report.already_there["templates"] += 1


def _read_leads(records: list, existing: list[Lead], region: str, check: _Checked
                ) -> list[_LeadIn]:
    by_phone = {lead.phone: lead for lead in existing if lead.phone}
    by_name: dict[str, list[Lead]] = {}
    for lead in existing:
        by_name.setdefault(lead.name.casefold(), []).append(lead)
    seen_phones: dict[str, str] = {}
    out = []
    for i, record in enumerate(records):
        place = f"leads[{i}]"
        if not isinstance(record, dict):
            check.fail(place, "must be an object")
            continue
        errors_before = len(check.errors)
        name = check.text(record, "name", place, limit=MAX_NAME)
        phone = None
        raw_phone = check.text(record, "phone", place, required=False)
        if raw_phone is not None:
            try:
                phone = normalize_phone(raw_phone, region)
            except InvalidPhone:
                check.fail(f"{place}.phone", f"{raw_phone!r} is not a valid phone number")
        email = check.text(record, "email", place, required=False, limit=254)
        if email is not None and ("@" not in email or " " in email):
            check.fail(f"{place}.email", f"{email!r} is not an email address")
        status = check.word(record, "status", place, STATUSES, required=False) or "new"
        created_at = check.instant(record, "created_at", place, required=False)
        last_contacted = check.instant(record, "last_contacted", place, required=False)
        if phone is not None:
            if phone in seen_phones:
                check.fail(f"{place}.phone", f"{seen_phones[phone]} has the same phone")
            seen_phones[phone] = place
        if len(check.errors) > errors_before or name is None:
            continue
        match = by_phone.get(phone) if phone else None
        if match is None:
            named = [lead for lead in by_name.get(name.casefold(), [])
                     if not phone or not lead.phone]
            if len(named) > 1:
                check.fail(place, f"{len(named)} of your leads are named {name}; give its phone")
                continue
            match = named[0] if named else None
        given = {key for key in ("name", "phone", "email", "status", "created_at",
                                 "last_contacted") if key in record}
        out.append(_LeadIn(place, name, phone, email and email.lower(), status, created_at,
                           last_contacted, given, match))
    return out


class _LeadResolver:
    """A record's `lead` (a full name, or a phone where names are shared) to its lead: one of
    the file's leads first, then one of the agent's existing leads."""

    def __init__(self) -> None:
        self.targets: dict[str, _LeadIn | int] = {}
        self.ambiguous: set[str] = set()

    def __call__(self, said: str) -> _LeadIn | int | None | str:
        key = said.strip().casefold()
        if key in self.ambiguous:
            return "ambiguous"
        return self.targets.get(key)


def _lead_resolver(leads_in: list[_LeadIn], existing: list[Lead]) -> _LeadResolver:
    resolver = _LeadResolver()
    names: Counter = Counter()
    for lead in existing:
        names[lead.name.casefold()] += 1
    matched = {entry.lead.id for entry in leads_in if entry.lead is not None}
    for lead in existing:  # the agent's other leads, unless the file names one the same
        if lead.id in matched:
            continue
        if names[lead.name.casefold()] > 1:
            resolver.ambiguous.add(lead.name.casefold())
        else:
            resolver.targets[lead.name.casefold()] = lead.id
        if lead.phone:
            resolver.targets[lead.phone.casefold()] = lead.id
    file_names = Counter(entry.name.casefold() for entry in leads_in)
    for entry in leads_in:
        key = entry.name.casefold()
        resolver.ambiguous.discard(key)
        if file_names[key] > 1:
            resolver.ambiguous.add(key)
            resolver.targets.pop(key, None)
        else:
            resolver.targets[key] = entry
        if entry.phone:
            resolver.targets[entry.phone.casefold()] = entry
    return resolver


def _read_records(records: list, section: str, resolve: _LeadResolver, check: _Checked,
                  read: Callable[[dict, str, _Checked], dict]) -> list[tuple[str, dict]]:
    out = []
    for i, record in enumerate(records):
        place = f"{section}[{i}]"
        if not isinstance(record, dict):
            check.fail(place, "must be an object")
            continue
        errors_before = len(check.errors)
        said = check.text(record, "lead", place)
        target = resolve(said) if said is not None else None
        if said is not None and target is None:
            check.fail(f"{place}.lead", f"no lead named {said!r} in the file or your book")
        elif target == "ambiguous":
            check.fail(f"{place}.lead", f"several leads are named {said!r}; use its phone")
        values = read(record, place, check)
        if len(check.errors) == errors_before:
            out.append((said.strip().casefold(), values))
    return out


def _read_interaction(record: dict, place: str, check: _Checked) -> dict:
    note = record.get("note") or ""
    if not isinstance(note, str):
        check.fail(f"{place}.note", "must be a string")
    return {"type": check.word(record, "type", place, INTERACTION_TYPES),
            "note": note.strip() if isinstance(note, str) else "",
            "occurred_at": check.instant(record, "at", place)}


def _read_follow_up(record: dict, place: str, check: _Checked) -> dict:
    state = check.word(record, "state", place, STATES_IN, required=False) or "open"
    due_at = check.instant(record, "due_at", place)
    # The book does not say when a done follow-up was done: its due time is the best guess
    # (reports count it done on time), better than the moment of the import.
    return {"title": check.text(record, "title", place, limit=MAX_TITLE), "due_at": due_at,
            "state": STATES_IN[state], "completed_at": due_at if state == "done" else None}


def _read_history(record: dict, place: str, check: _Checked) -> dict:
    return {"old_status": check.word(record, "old", place, STATUSES, required=False),
            "new_status": check.word(record, "new", place, STATUSES),
            "changed_at": check.instant(record, "at", place)}


def _write_leads(session: Session, agent: User, leads_in: list[_LeadIn],
                 report: ImportReport) -> None:
    announce: list[tuple[str, Lead]] = []
    for entry in leads_in:
        if entry.lead is None:
            lead = Lead(agent_id=agent.id, name=entry.name, phone=entry.phone, email=entry.email,
                        status=entry.status, last_contacted=entry.last_contacted,
                        source="import")
            if entry.created_at is not None:
                lead.created_at = entry.created_at
            session.add(lead)
            session.flush()
            entry.lead = lead
            report.leads_added += 1
            report.new_lead_ids.append(lead.id)
            announce.append(("lead.created", lead))
            continue
        lead = entry.lead
        values = {"name": entry.name, "phone": entry.phone, "email": entry.email,
                  "status": entry.status, "created_at": entry.created_at,
                  "last_contacted": entry.last_contacted}
        changed = {key: [getattr(lead, key), value] for key, value in values.items()
                   if key in entry.given and getattr(lead, key) != value}
        if not changed:
            report.leads_unchanged += 1
            continue
        for key, (_, value) in changed.items():
            setattr(lead, key, value)
        details = {k: v for k, v in changed.items() if k in ("name", "phone", "email")}
        if details:
            session.add(ChangeHistory(agent_id=agent.id, lead_id=lead.id, kind="lead.updated",
                                      changes=details, channel="import"))
        if "status" in changed:
            session.add(LeadHistory(lead_id=lead.id, agent_id=agent.id,
                                    old_status=changed["status"][0],
                                    new_status=changed["status"][1], channel="import"))
            announce.append(("lead.status_changed", lead))
        if set(changed) - {"status"}:
            announce.append(("lead.updated", lead))
        report.leads_updated += 1
    session.flush()
    for event_type, lead in announce:
        outbox.emit(session, agent.id, event_type, lead_json(lead), lead_id=lead.id)


_TABLES = {
    "interactions": (ClientInteraction, ("type", "note", "occurred_at")),
    "follow_ups": (Appointment, ("title", "due_at")),
    "status_history": (LeadHistory, ("old_status", "new_status", "changed_at")),
}


def _write(session: Session, agent: User, report: ImportReport, section: str,
           records: list[tuple[str, dict]], lead_id: dict[str, int]) -> None:
    """Add the records not already there (same lead, same instant, same content)."""
    model, identity = _TABLES[section]
    ids = {lead_id[key] for key, _ in records}
    columns = [model.lead_id, *(getattr(model, name) for name in identity)]
    there = {tuple(row) for row in session.execute(
        select(*columns).where(model.agent_id == agent.id, model.lead_id.in_(ids)))} if ids \
        else set()
    rows = []
    for key, values in records:
        row = {"lead_id": lead_id[key], "agent_id": agent.id, **values}
        signature = (row["lead_id"], *(row[name] for name in identity))
        if signature in there:
            if section == "follow_ups":  # the file's state wins, as a matched lead's values do
                session.execute(model.__table__.update().where(
                    model.agent_id == agent.id, model.lead_id == row["lead_id"],
                    model.title == row["title"], model.due_at == row["due_at"],
                    model.state != row["state"],
                ).values(state=row["state"], completed_at=row["completed_at"]))
            report.already_there[section] += 1
            continue
        there.add(signature)
        rows.append(row)
    if rows:
        extra = {"channel": "import"}
        event_type, represent = _ANNOUNCED.get(section, (None, None))
        if event_type is None or not outbox.wanted(session, agent.id, event_type):
            session.execute(insert(model), [{**extra, **row} for row in rows])
        else:
            new_ids = session.scalars(insert(model).returning(model.id,
                                                               sort_by_parameter_order=True),
                                      [{**extra, **row} for row in rows]).all()
            for added in session.scalars(select(model).where(model.id.in_(new_ids))
                                         .order_by(model.id)):
                outbox.emit(session, agent.id, event_type, represent(added),
                            lead_id=added.lead_id)
    report.added[section] += len(rows)


_ANNOUNCED = {"interactions": ("interaction.created", interaction_json),
              "follow_ups": ("follow_up.created", follow_up_json)}
