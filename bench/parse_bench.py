"""Parser latency with a big agent: 5,000 leads, 50,000 interactions and 20,000 follow-ups.

Two corpora are parsed at their fixed "now": commands.jsonl (adding to the book: statuses,
logs, follow-ups, questions) against the corpus leads, and changes.jsonl (changing and reading
what is there: moving, cancelling and completing follow-ups, lead edits, many leads at once),
whose messages make the parser look up open follow-ups, interactions and last contacts, against
its own book. Each agent has 5,000 synthetic leads besides the corpus's, and a book of 20,000
follow-ups and 50,000 interactions held in a `MemoryBook`; the LeadDirectory and the book are
built once, outside the timed loop, as the conversation layer keeps a directory per agent.
Targets: p50 <= 1 ms, p99 <= 5 ms per message (on a shared 2-core machine: floors, not ceilings).

    .venv/bin/python bench/parse_bench.py [--rounds 3]

It then measures `flask --app wsgi assistant parse --jsonl` as a user runs it: one process, a
throwaway SQLite database holding the changes corpus's agent (its book loaded by the data
import, plus the same 5,000 leads, 20,000 follow-ups and 50,000 interactions), every message of
both corpora fed on stdin --rounds times; it prints messages/s with and without start-up. That
path reads the book through the SQL lookups (`webapp.crm.book_lookup`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.vocabulary import INTERACTION_TYPES, STATUSES  # noqa: E402
from webapp.understanding.book import (  # noqa: E402
    FollowUpRef,
    InteractionRef,
    LeadContact,
    MemoryBook,
)
from webapp.understanding.lead_names import LeadDirectory  # noqa: E402
from webapp.understanding.parser import AgentContext, parse_message  # noqa: E402
from webapp.understanding.plan import LeadRef  # noqa: E402

N_LEADS = 5000
N_FOLLOW_UPS = 20_000
N_INTERACTIONS = 50_000
FIRST = ("Liam Noah Oliver Elijah James William Benjamin Lucas Henry Theodore Olivia Emma "
         "Charlotte Amelia Sophia Isabella Ava Mia Evelyn Luna Aiden Zoe Nora Kai Ezra Ivy "
         "Hiro Yuki Ananya Arjun Fatima Omar Leila Mateo Camila Sven Ingrid Kofi Amara").split()
LAST = ("Anderson Thompson Martinez Robinson Clark Rodriguez Lewis Walker Hall Allen Young "
        "Hernandez King Wright Lopez Hill Scott Adams Baker Gonzalez Nelson Carter Mitchell "
        "Perez Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Sanchez "
        "Morris Rogers Reed Cook Morgan Bell Murphy Bailey Rivera Cooper Richardson Cox "
        "Howard Ward Torres Peterson Gray Ramirez Watson Brooks Kelly Sanders Price Bennett "
        "Wood Barnes Ross Henderson Coleman Jenkins Perry Powell Long Patterson Hughes "
        "Flores Washington Butler Simmons Foster Gonzales Bryant Alexander Russell Griffin "
        "Diaz Hayes Tanaka Okafor Kowalski Novak Haddad Lindqvist").split()
TITLES = ("call back", "send listings", "check in", "send the disclosures", "showing at 4 Oak St",
          "send the offer", "review the inspection report", "drop off the keys", "send comps",
          "ask about financing", "follow up on the appraisal", "open house invite")


def build_leads(corpus_leads: list[dict], n: int = N_LEADS) -> list[LeadRef]:
    rng = random.Random(7)
    leads = [LeadRef(lead["id"], lead["name"], lead["status"], lead.get("phone"))
             for lead in corpus_leads]
    next_id = max(lead.id for lead in leads) + 1
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        leads.append(LeadRef(next_id + i, name, rng.choice(STATUSES)))
    return leads


def synthetic_book(lead_ids: list[int], now: datetime, first_id: int = 1
                   ) -> tuple[list[FollowUpRef], list[InteractionRef]]:
    """20,000 follow-ups (a year back to two months ahead, on the half hour, 8 AM to 6 PM;
    nine in ten past ones done or cancelled, the rest open: about 4,500 open) and 50,000
    interactions over the past year, spread over `lead_ids`. Only open follow-ups are
    returned: the parser's book never holds the others (`synthetic_states` has them all)."""
    return ([f for f, state in synthetic_states(lead_ids, now, first_id) if state == "scheduled"],
            synthetic_interactions(lead_ids, now))


def synthetic_states(lead_ids: list[int], now: datetime, first_id: int = 1
                     ) -> list[tuple[FollowUpRef, str]]:
    rng = random.Random(11)
    zone = now.tzinfo
    follow_ups = []
    for i in range(N_FOLLOW_UPS):
        day = now.date() + timedelta(days=rng.randint(-365, 60))
        due = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 30)),
                       tzinfo=zone)
        state = "scheduled" if due >= now or rng.random() < 0.1 else rng.choice(
            ("done", "done", "done", "cancelled"))
        follow_ups.append((FollowUpRef(first_id + i, rng.choice(lead_ids), rng.choice(TITLES),
                                       due), state))
    return follow_ups


def synthetic_interactions(lead_ids: list[int], now: datetime) -> list[InteractionRef]:
    rng = random.Random(13)
    types = [t for t in INTERACTION_TYPES if t != "note"] + ["note"]
    return [InteractionRef(rng.choice(lead_ids), rng.choice(types),
                           now - timedelta(minutes=rng.randint(60, 365 * 24 * 60)))
            for _ in range(N_INTERACTIONS)]


def _rows(name: str) -> list[dict]:
    lines = (ROOT / "tests" / "corpus" / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def commands_agent() -> tuple[AgentContext, datetime, list[dict]]:
    corpus = ROOT / "tests" / "corpus"
    agent = json.loads((corpus / "leads.json").read_text(encoding="utf-8"))
    zone = ZoneInfo(agent["agent"]["timezone"])
    now = datetime.fromisoformat(agent["now"]).astimezone(zone)
    leads = build_leads(agent["leads"])
    follow_ups, interactions = synthetic_book([lead.id for lead in leads], now)
    last = {lead.id: None for lead in leads}
    book = MemoryBook(follow_ups, interactions, last)
    return AgentContext(LeadDirectory(leads), zone, agent["agent"]["country"], book=book), now, \
        _rows("commands.jsonl")


def changes_agent() -> tuple[AgentContext, datetime, list[dict]]:
    """The changes corpus's agent: book.json in memory plus the synthetic leads and book."""
    corpus = ROOT / "tests" / "corpus"
    data = json.loads((corpus / "book.json").read_text(encoding="utf-8"))
    meta = json.loads((corpus / "book_agent.json").read_text(encoding="utf-8"))
    zone = ZoneInfo(meta["agent"]["timezone"])
    now = datetime.fromisoformat(meta["now"]).astimezone(zone)
    own = [{"id": i, "name": lead["name"], "status": lead["status"], "phone": lead["phone"]}
           for i, lead in enumerate(data["leads"], start=1)]
    leads = build_leads(own)
    ids = {lead["name"]: lead["id"] for lead in own}
    follow_ups, interactions = synthetic_book([lead.id for lead in leads[len(own):]], now,
                                              first_id=1000)
    follow_ups += [FollowUpRef(i, ids[f["lead"]], f["title"], datetime.fromisoformat(f["due_at"]))
                   for i, f in enumerate(data["follow_ups"], start=1) if f["state"] == "open"]
    interactions += [InteractionRef(ids[i["lead"]], i["type"], datetime.fromisoformat(i["at"]))
                     for i in data["interactions"]]
    last: dict[int, datetime | None] = {lead.id: None for lead in leads}
    last.update({ids[lead["name"]]: datetime.fromisoformat(lead["last_contacted"])
                 for lead in data["leads"] if lead["last_contacted"]})
    contacts = {ids[lead["name"]]: LeadContact(lead["phone"], lead["email"])
                for lead in data["leads"]}
    book = MemoryBook(follow_ups, interactions, last, contacts)
    return AgentContext(LeadDirectory(leads), zone, meta["agent"]["country"], book=book), now, \
        _rows("changes.jsonl")


def timed(ctx: AgentContext, now: datetime, rows: list[dict], rounds: int) -> list[float]:
    by_name = {lead.name: lead.id for lead in ctx.leads}
    latencies: list[float] = []
    for _ in range(rounds):
        for row in rows:
            context = row.get("context", {})
            recent = tuple(context.get("recent_lead_ids", ())) or tuple(
                by_name[name] for name in context.get("recent_leads", ()))
            c = AgentContext(ctx.leads, ctx.timezone, ctx.country, recent, book=ctx.book)
            when = datetime.fromisoformat(row["now"]).astimezone(ctx.timezone) \
                if row.get("now") else now
            t0 = time.perf_counter()
            parse_message(row["message"], c, when)
            latencies.append((time.perf_counter() - t0) * 1000)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    agents = {"commands": commands_agent(), "changes": changes_agent()}
    build_s = time.perf_counter() - started
    ctx = agents["changes"][0]
    print(f"per agent: {len(ctx.leads)} leads, {N_FOLLOW_UPS:,} follow-ups, "
          f"{N_INTERACTIONS:,} interactions (directory and book built in {build_s:.2f} s for "
          "both, not timed)")
    cold: list[float] = []
    for ctx, now, rows in agents.values():  # first pass: the word memo is empty
        cold += timed(ctx, now, rows, 1)
    cold.sort()
    every: list[float] = []
    for name, (ctx, now, rows) in agents.items():
        latencies = sorted(timed(ctx, now, rows, args.rounds))
        every += latencies
        print(f"{name}.jsonl: {len(rows)} messages x {args.rounds} rounds: "
              f"p50 {statistics.median(latencies):.2f} ms   "
              f"p99 {_percentile(latencies, 0.99):.2f} ms   max {latencies[-1]:.2f} ms")
    every.sort()
    total_s = sum(every) / 1000
    print(f"all: p50 {statistics.median(every):.2f} ms   p99 {_percentile(every, 0.99):.2f} ms   "
          f"max {every[-1]:.2f} ms   {len(every) / total_s:.0f} messages/s")
    print(f"first pass (cold word memo): p50 {statistics.median(cold):.2f} ms   "
          f"p99 {_percentile(cold, 0.99):.2f} ms")
    jsonl_throughput(args.rounds)


def jsonl_throughput(rounds: int) -> None:
    """One `assistant parse --jsonl` process over both corpora, timed from outside, with the
    agent's whole book in SQLite (read through the SQL lookups)."""
    from sqlalchemy import insert

    from db import migrate
    from db.models import Appointment, ClientInteraction, Lead, User
    from db.session import Database
    from webapp.crm.book_transfer import import_book

    corpus = ROOT / "tests" / "corpus"
    data = json.loads((corpus / "book.json").read_text(encoding="utf-8"))
    meta = json.loads((corpus / "book_agent.json").read_text(encoding="utf-8"))
    zone = ZoneInfo(meta["agent"]["timezone"])
    now = datetime.fromisoformat(meta["now"]).astimezone(zone)
    rows = _rows("commands.jsonl") + _rows("changes.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(url)
        db = Database(url)
        with db.session() as session:
            user = User(name="Bench Agent", phone=meta["agent"]["phone"],
                        timezone=meta["agent"]["timezone"])
            session.add(user)
            session.flush()
            import_book(session, user, data, meta["agent"]["country"])
            extra = build_leads([{"id": 0, "name": "Nobody Here", "status": "new"}])[1:]
            session.execute(insert(Lead), [{"agent_id": user.id, "name": lead.name,
                                            "status": lead.status} for lead in extra])
            session.flush()
            ids = list(session.scalars(Lead.__table__.select().with_only_columns(Lead.id)
                                       .where(Lead.agent_id == user.id)))
            session.execute(insert(Appointment), [
                {"agent_id": user.id, "lead_id": f.lead_id, "title": f.title,
                 "due_at": f.due_at, "state": state, "channel": "import"}
                for f, state in synthetic_states(ids, now)])
            interactions = synthetic_interactions(ids, now)
            session.execute(insert(ClientInteraction), [
                {"agent_id": user.id, "lead_id": i.lead_id, "type": i.type, "note": "",
                 "occurred_at": i.at, "channel": "import"} for i in interactions])
            session.commit()
        db.dispose()
        lines = [json.dumps({"message": row["message"], **({"now": row["now"]}
                                                             if row.get("now") else {})})
                 for row in rows] * rounds
        env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
        command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "assistant", "parse",
                   "--agent", meta["agent"]["phone"], "--now", meta["now"], "--jsonl"]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(lines[0] + "\n")
        process.stdin.flush()
        process.stdout.readline()  # the first answer: start-up and directory build are done
        warm = time.perf_counter()

        def feed() -> None:  # from a thread: the answers fill the stdout pipe meanwhile
            assert process.stdin is not None
            process.stdin.write("\n".join(lines[1:]) + "\n")
            process.stdin.close()

        feeder = threading.Thread(target=feed)
        feeder.start()
        answered = 1 + sum(1 for _ in process.stdout)
        feeder.join()
        done = time.perf_counter()
        process.wait(timeout=60)
    if answered != len(lines):
        raise SystemExit(f"--jsonl answered {answered} of {len(lines)} lines")
    print(f"assistant parse --jsonl: {len(lines)} messages in one process (book in SQLite: "
          f"{N_FOLLOW_UPS:,} follow-ups, {N_INTERACTIONS:,} interactions); "
          f"{(len(lines) - 1) / (done - warm):.0f} messages/s warm, "
          f"{len(lines) / (done - started):.0f} messages/s including "
          f"{warm - started:.1f} s of start-up")


if __name__ == "__main__":
    main()
