"""Parser latency with a big agent: 5,000 synthetic leads plus the corpus leads.

Every corpus message is parsed at the corpus's fixed "now"; the LeadDirectory is built once,
outside the timed loop, as the conversation layer does per agent. Targets on the 2-core dev
machine: p50 <= 2 ms, p99 <= 10 ms per message.

    .venv/bin/python bench/parse_bench.py [--rounds 3]

It then measures `flask --app wsgi assistant parse --jsonl` as a user runs it: one process, a
throwaway SQLite database holding the same agent and leads, every corpus message fed on stdin
--rounds times; it prints messages/s with and without the process's start-up.
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
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db.vocabulary import STATUSES  # noqa: E402
from webapp.understanding.lead_names import LeadDirectory  # noqa: E402
from webapp.understanding.parser import AgentContext, parse_message  # noqa: E402
from webapp.understanding.plan import LeadRef  # noqa: E402

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


def build_leads(corpus_leads: list[dict], n: int = 5000) -> list[LeadRef]:
    rng = random.Random(7)
    leads = [LeadRef(**lead) for lead in corpus_leads]
    next_id = max(lead.id for lead in leads) + 1
    for i in range(n):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        leads.append(LeadRef(next_id + i, name, rng.choice(STATUSES)))
    return leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpus = ROOT / "tests" / "corpus"
    agent = json.loads((corpus / "leads.json").read_text(encoding="utf-8"))
    rows = [json.loads(line) for line in
            (corpus / "commands.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    tz = ZoneInfo(agent["agent"]["timezone"])
    now = datetime.fromisoformat(agent["now"]).astimezone(tz)
    started = time.perf_counter()
    directory_leads = build_leads(agent["leads"])
    directory = LeadDirectory(directory_leads)
    build_s = time.perf_counter() - started
    ctx = AgentContext(directory, tz, agent["agent"]["country"])
    cold: list[float] = []
    for row in rows:  # first pass: lead_names' per-word memo is empty, so this is the worst case
        t0 = time.perf_counter()
        parse_message(row["message"], ctx, now)
        cold.append((time.perf_counter() - t0) * 1000)
    cold.sort()
    latencies: list[float] = []
    for _ in range(args.rounds):
        for row in rows:
            recent = tuple(row.get("context", {}).get("recent_lead_ids", ()))
            c = AgentContext(directory, tz, ctx.country, recent) if recent else ctx
            t0 = time.perf_counter()
            parse_message(row["message"], c, now)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    total_s = sum(latencies) / 1000
    print(f"leads: {len(directory)} (directory built in {build_s:.2f} s, not timed)")
    print(f"messages: {len(rows)} x {args.rounds} rounds")
    print(f"p50 {p50:.2f} ms   p99 {p99:.2f} ms   max {latencies[-1]:.2f} ms   "
          f"{len(latencies) / total_s:.0f} messages/s")
    print(f"first pass (cold word memo): p50 {statistics.median(cold):.2f} ms   "
          f"p99 {cold[min(len(cold) - 1, int(len(cold) * 0.99))]:.2f} ms")
    jsonl_throughput(agent, list(directory_leads), rows, args.rounds)


def jsonl_throughput(agent: dict, leads: list[LeadRef], rows: list[dict], rounds: int) -> None:
    """One `assistant parse --jsonl` process over the whole corpus, timed from outside."""
    from db import migrate
    from db.models import Lead, User
    from db.session import Database

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        migrate.upgrade(url)
        db = Database(url)
        with db.session() as session:
            user = User(name="Bench Agent", phone="+13125550100",
                        timezone=agent["agent"]["timezone"])
            session.add(user)
            session.flush()
            session.add_all(Lead(agent_id=user.id, name=lead.name, status=lead.status)
                            for lead in leads)
            session.commit()
        db.dispose()
        lines = [json.dumps({"message": row["message"]}) for row in rows] * rounds
        env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development"}
        command = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "assistant", "parse",
                   "--agent", "+13125550100", "--now", agent["now"], "--jsonl"]
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(lines[0] + "\n")
        process.stdin.flush()
        process.stdout.readline()  # the first answer: start-up and directory build are done
        warm = time.perf_counter()
        process.stdin.write("\n".join(lines[1:]) + "\n")
        process.stdin.close()
        answered = 1 + sum(1 for _ in process.stdout)
        done = time.perf_counter()
        process.wait(timeout=60)
    if answered != len(lines):
        raise SystemExit(f"--jsonl answered {answered} of {len(lines)} lines")
    print(f"assistant parse --jsonl: {len(lines)} messages in one process; "
          f"{(len(lines) - 1) / (done - warm):.0f} messages/s warm, "
          f"{len(lines) / (done - started):.0f} messages/s including "
          f"{warm - started:.1f} s of start-up")


if __name__ == "__main__":
    main()
