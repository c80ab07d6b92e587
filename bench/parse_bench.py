"""Parser latency with a big agent: 5,000 synthetic leads plus the corpus leads.

Every corpus message is parsed at the corpus's fixed "now"; the LeadDirectory is built once,
outside the timed loop, as the conversation layer does per agent. Targets on the 2-core dev
machine: p50 <= 2 ms, p99 <= 10 ms per message.

    .venv/bin/python bench/parse_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.understanding.lead_names import LeadDirectory  # noqa: E402
from webapp.understanding.parser import AgentContext, parse_message  # noqa: E402
from webapp.understanding.plan import STATUSES, LeadRef  # noqa: E402

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
    directory = LeadDirectory(build_leads(agent["leads"]))
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


if __name__ == "__main__":
    main()
