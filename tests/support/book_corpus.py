"""The changes corpus (tests/corpus/changes.jsonl) and its book (book.json, in the spec's
"Moving a book in and out" format): parsing a row as its agent would, against a book held in a
real database or in memory, and comparing with the label.

The label's fields are compared like the older corpora's (notes and titles trimmed and
casefolded, everything else exact), plus the new action types' fields and, for a question, the
`query` object's fields the label gives (ids aside: they depend on the database).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from webapp.understanding.book import FollowUpRef, InteractionRef, LeadContact, MemoryBook
from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, parse_message
from webapp.understanding.plan import LeadRef

CORPUS = Path(__file__).parent.parent / "corpus"
KEYS = {
    "update_status": ("lead", "status"),
    "log_interaction": ("lead", "interaction_type", "note"),
    "schedule_follow_up": ("lead", "due_at", "title"),
    "create_lead": ("name", "phone", "email"),
    "reschedule_follow_up": ("lead", "due_at", "title"),
    "cancel_follow_up": ("lead", "title"),
    "complete_follow_up": ("lead", "title"),
    "update_lead": ("lead", "name", "phone", "email"),
}
LOOSE = {"note", "title"}


# Each corpus of this kind and its book: rows, book (spec format), agent and default "now".
BOOKS = {"changes.jsonl": "book", "changes_holdout.jsonl": "book2"}


def load_book(book: str = "book") -> dict:
    return json.loads((CORPUS / f"{book}.json").read_text(encoding="utf-8"))


def book_agent(book: str = "book") -> dict:
    """The corpus agent (name, phone, zone, country) and the default "now"."""
    return json.loads((CORPUS / f"{book}_agent.json").read_text(encoding="utf-8"))


def load_rows(name: str = "changes.jsonl") -> list[dict]:
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def default_now(book: str = "book") -> datetime:
    meta = book_agent(book)
    return datetime.fromisoformat(meta["now"]).astimezone(ZoneInfo(meta["agent"]["timezone"]))


@lru_cache(maxsize=4)
def memory_agent(book: str = "book") -> tuple[AgentContext, datetime]:
    """The corpus agent with its book held in memory (ids in file order, from 1)."""
    data, meta = load_book(book), book_agent(book)
    zone = ZoneInfo(meta["agent"]["timezone"])
    ids = {lead["name"]: i for i, lead in enumerate(data["leads"], start=1)}
    leads = [LeadRef(ids[lead["name"]], lead["name"], lead["status"], lead["phone"])
             for lead in data["leads"]]
    follow_ups = [FollowUpRef(i, ids[f["lead"]], f["title"], datetime.fromisoformat(f["due_at"]))
                  for i, f in enumerate(data["follow_ups"], start=1) if f["state"] == "open"]
    interactions = [InteractionRef(ids[i["lead"]], i["type"], datetime.fromisoformat(i["at"]))
                    for i in data["interactions"]]
    last = {ids[lead["name"]]: (datetime.fromisoformat(lead["last_contacted"])
                                if lead["last_contacted"] else None) for lead in data["leads"]}
    contacts = {ids[lead["name"]]: LeadContact(lead["phone"], lead["email"])
                for lead in data["leads"]}
    memory = MemoryBook(follow_ups, interactions, last, contacts)
    ctx = AgentContext(LeadDirectory(leads), zone, meta["agent"]["country"], book=memory)
    return ctx, default_now(book)


def parse_row(row: dict, ctx: AgentContext, now: datetime) -> dict:
    """The parser's answer for a row, with the row's recent leads and "now" if it gives them."""
    by_name = {lead.name: lead.id for lead in ctx.leads}
    recent = tuple(by_name[name] for name in row.get("context", {}).get("recent_leads", ()))
    when = datetime.fromisoformat(row["now"]) if row.get("now") else now
    row_ctx = AgentContext(ctx.leads, ctx.timezone, ctx.country, recent, book=ctx.book)
    return parse_message(row["message"], row_ctx, when.astimezone(ctx.timezone)).to_dict()


def _shape(action: dict) -> dict:
    out = {"type": action["type"]}
    for key in KEYS[action["type"]]:
        value = action.get(key)
        if key in LOOSE and isinstance(value, str):
            value = " ".join(value.split()).casefold()
        out[key] = value
    return out


def row_matches(row: dict, got: dict) -> bool:
    expected = row["expected"]
    if got["kind"] != expected["kind"]:
        return False
    if "query" in expected:
        query = got.get("query") or {}
        if any(query.get(k) != v for k, v in expected["query"].items()):
            return False
    return [_shape(a) for a in got["actions"]] == [_shape(a) for a in expected["actions"]]


def misses(rows: list[dict], parse: Callable[[dict], dict]) -> list[tuple[dict, dict]]:
    out = []
    for row in rows:
        got = parse(row)
        if not row_matches(row, got):
            out.append((row, got))
    return out


def report(name: str, rows: list[dict], missed: list[tuple[dict, dict]]) -> float:
    """Print the accuracy and every miss (pytest -s shows them); return the accuracy."""
    accuracy = 1 - len(missed) / len(rows)
    print(f"\n{name} accuracy {accuracy:.1%} ({len(rows) - len(missed)}/{len(rows)})")
    for row, got in missed:
        brief = {"kind": got["kind"], "actions": [_shape(a) for a in got["actions"]]}
        if got.get("query"):
            brief["query"] = got["query"]
        print(f"MISS: {row['message']!r}\n  want {json.dumps(row['expected'], ensure_ascii=False)}"
              f"\n  got  {json.dumps(brief, ensure_ascii=False)}\n  reply {got['reply']!r}")
    return accuracy


def load_into_database(db, book: str = "book"):
    """The corpus agent and its book in the database `db` (a `db.session.Database`), loaded by
    the data import (`webapp.crm.book_transfer.import_book`, the spec's "Moving a book in and
    out"); returns the agent."""
    from db.models import User
    from webapp.crm.book_transfer import import_book

    meta = book_agent(book)["agent"]
    with db.session() as session:
        agent = User(name=meta["name"], phone=meta["phone"], timezone=meta["timezone"])
        session.add(agent)
        session.flush()
        report = import_book(session, agent, load_book(book), meta["country"])
        assert not report.errors, report.errors
        session.commit()
        return agent


def database_agent(db, agent, book: str = "book") -> AgentContext:
    """The corpus agent's context as the conversation builds it: its lead directory and the
    SQL book over `db`."""
    from webapp.conversation.lead_directories import directory_for
    from webapp.crm.book_lookup import SqlBook

    meta = book_agent(book)["agent"]
    with db.session() as session:
        leads = directory_for(session, agent.id)
    return AgentContext(leads, ZoneInfo(meta["timezone"]), meta["country"],
                        book=SqlBook(db.session, agent.id))
