"""Latency of lead-name lookup for a busy agent: 5,000 synthetic leads, a few hundred SMS.

Run: .venv/bin/python bench/names_bench.py [--leads 5000] [--messages 400] [--seed 7]

Prints the directory build time and find_mentions p50/p99, both "cold" (the per-word memo
emptied before each message) and "warm" (the memo filled, as for a cached per-agent directory).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.understanding.lead_names import LeadDirectory  # noqa: E402
from webapp.understanding.plan import LeadRef  # noqa: E402

FIRST_NAMES = """
James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty
Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle
Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah Ronald Stephanie Edward
Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary Amy Nicholas Angela Eric
Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott Nicole Brandon Helen Benjamin
Samantha Samuel Katherine Gregory Christine Alexander Debra Frank Rachel Patrick Carolyn Raymond
Janet Jack Catherine Dennis Maria Jerry Heather Tyler Diane Aaron Ruth Jose Julie Adam Olivia
Nathan Joyce Henry Virginia Douglas Victoria Zachary Kelly Peter Lauren Kyle Christina Ethan Joan
Walter Evelyn Noah Judith Jeremy Megan Christian Andrea Keith Cheryl Roger Hannah Terry Jacqueline
Gerald Martha Harold Gloria Sean Teresa Austin Ann Carl Sara Arthur Madison Lawrence Frances
Dylan Kathryn Jesse Janice Jordan Jean Bryan Abigail Billy Alice Joe Judy Bruce Sophia Gabriel
Grace Logan Denise Albert Amber Willie Doris Alan Marilyn Juan Danielle Wayne Beverly Elijah
Isabella Randy Theresa Roy Diana Vincent Natalie Ralph Brittany Eugene Charlotte Russell Marie
Bobby Kayla
Mason Alexis Philip Lori Louis Dana Will April June Rose Zoë José Chloé Renée Sofía Mateo Lucía
Björn Søren Łukasz Siobhan Mary-Kate Jean-Luc Anne-Marie Dan Jon
""".split()

LAST_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark
Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams
Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker
Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper
Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James
Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster
Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales Fisher
Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno
West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro
Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen
Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw
Snyder Mason Dixon Muñoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar
Fox Warren Mills Meyer Rice Schmidt García Pérez Núñez Müller Østergaard O'Brien O'Connor
D'Angelo McCarthy Smith-Jones Doe Park
""".split()

TEMPLATES = [
    "Log that my call with {name} went well, update his status to negotiating",
    "called {first} no answer",
    "mark {name} as closed won",
    "met w/ {name} for coffee, she loved the kitchen but worries about the price",
    "{name} wants a second viewing on Saturday afternoon, remind me to send the disclosures",
    "Remind me to call {first} tomorrow at 3 about the inspection report and the appraisal",
    "update {last}'s status to qualified and schedule a follow up next Tuesday morning",
    "Had a showing with {name} at 12 Birch Ln, they want to make an offer this week",
    "texted {first} the open house times for Sunday, waiting to hear back from her lender",
    "Add a note that {name} mentioned budget concerns and needs to sell first",
    "spoke to {first} {last} on the phone, mark her as contacted and follow up in 3 days",
    "{first} left a voicemail asking about HOA fees, call back tomorrow morning please",
]


def synthetic_leads(n: int, rng: random.Random) -> list[LeadRef]:
    """Realistic-ish leads: common first/last names, some accents, some duplicate names."""
    statuses = ["new", "contacted", "qualified", "negotiating", "follow_up"]
    return [
        LeadRef(
            id=i,
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            status=rng.choice(statuses),
        )
        for i in range(1, n + 1)
    ]


def typo(word: str, rng: random.Random) -> str:
    """A one-edit typo, as agents type with their thumbs."""
    if len(word) < 5:
        return word
    k = rng.randrange(1, len(word) - 1)
    return word[:k] + word[k + 1] + word[k] + word[k + 2 :]


def synthetic_messages(
    leads: list[LeadRef], n: int, rng: random.Random
) -> list[tuple[str, LeadRef]]:
    """Messages naming one lead each (some lowercased, some with a typo in the last name)."""
    out = []
    for _ in range(n):
        lead = rng.choice(leads)
        first, last = lead.name.split(" ", 1)
        name = lead.name
        roll = rng.random()
        if roll < 0.15:
            name = f"{first} {typo(last, rng)}"
        elif roll < 0.3:
            name = name.lower()
        text = rng.choice(TEMPLATES).format(name=name, first=first, last=last)
        out.append((text, lead))
    return out


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    leads = synthetic_leads(args.leads, rng)
    labelled = synthetic_messages(leads, args.messages, rng)
    messages = [text for text, _ in labelled]
    words = [len(m.split()) for m in messages]

    builds = []
    for _ in range(5):
        t0 = time.perf_counter()
        directory = LeadDirectory(leads)
        builds.append(time.perf_counter() - t0)
    print(
        f"leads: {len(directory)}  messages: {len(messages)}  "
        f"words/message: mean {statistics.mean(words):.1f}"
    )
    print(
        f"build: median {statistics.median(builds) * 1e3:.1f} ms  "
        f"(min {min(builds) * 1e3:.1f}, max {max(builds) * 1e3:.1f})"
    )

    cold: list[float] = []
    fresh = LeadDirectory(leads)
    for text in messages:
        fresh._cache.clear()  # noqa: SLF001 - measure with no word seen before
        t0 = time.perf_counter()
        fresh.find_mentions(text)
        cold.append(time.perf_counter() - t0)
    warm: list[float] = []
    found = 0
    for _ in range(3):
        for text in messages:
            t0 = time.perf_counter()
            found += bool(directory.find_mentions(text))
            warm.append(time.perf_counter() - t0)
    for label, samples in (("cold (per-word memo emptied)", cold), ("warm (memo filled)", warm)):
        print(
            f"find_mentions {label}: p50 {percentile(samples, 50) * 1e3:.3f} ms  "
            f"p99 {percentile(samples, 99) * 1e3:.3f} ms  max {max(samples) * 1e3:.3f} ms"
        )
    print(f"messages with at least one mention: {found / len(warm):.1%}")
    hit = sum(
        any(lead.id in {ref.id for ref in m.leads} for m in directory.find_mentions(text))
        for text, lead in labelled
    )
    print(
        f"messages whose intended lead is among the mentions (maybe ambiguous): "
        f"{hit / len(labelled):.1%}"
    )


if __name__ == "__main__":
    main()
