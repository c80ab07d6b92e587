"""The labelled corpora in tests/corpus/: loading them, parsing a row as its agent would,
and comparing with the label (notes and titles trimmed and casefolded, every other field exact).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, parse_message
from webapp.understanding.plan import LeadRef

CORPUS = Path(__file__).parent.parent / "corpus"
MIN_ACCURACY = 0.97
_KEYS = {
    "update_status": ("lead", "status"),
    "log_interaction": ("lead", "interaction_type", "note"),
    "schedule_follow_up": ("lead", "due_at", "title"),
    "create_lead": ("name", "phone", "email"),
    "save_template": ("template", "text"),
    "delete_template": ("template",),
}
_LOOSE = {"note", "title", "text"}


@lru_cache(maxsize=1)
def corpus_agent() -> tuple[LeadDirectory, ZoneInfo, str, datetime]:
    """The corpus agent's leads, zone, country and the fixed 'now' (shared with the bench)."""
    data = json.loads((CORPUS / "leads.json").read_text(encoding="utf-8"))
    tz = ZoneInfo(data["agent"]["timezone"])
    leads = LeadDirectory(LeadRef(**lead) for lead in data["leads"])
    return leads, tz, data["agent"]["country"], datetime.fromisoformat(data["now"]).astimezone(tz)


def load_rows(name: str = "commands.jsonl") -> list[dict]:
    """The labeled rows of one corpus file in tests/corpus/."""
    lines = (CORPUS / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _shape(action: dict) -> dict:
    keys = _KEYS[action["type"]]
    out = {"type": action["type"]}
    for key in keys:
        value = action.get(key)
        if key in _LOOSE and isinstance(value, str):
            value = " ".join(value.split()).casefold()
        out[key] = value
    return out


def parse_row(row: dict) -> dict:
    leads, tz, country, now = corpus_agent()
    recent = tuple(row.get("context", {}).get("recent_lead_ids", ()))
    ctx = AgentContext(leads=leads, timezone=tz, country=country, recent_lead_ids=recent)
    return parse_message(row["message"], ctx, now).to_dict()


def row_matches(row: dict, got: dict) -> bool:
    expected = row["expected"]
    if got["kind"] != expected["kind"]:
        return False
    if "reminder" in expected and got.get("reminder") != expected["reminder"]:
        return False  # DONE / SNOOZE: the reminder number and the new due time
    return [_shape(a) for a in got["actions"]] == [_shape(a) for a in expected["actions"]]


def _brief(got: dict) -> dict:
    return {"kind": got["kind"], "actions": got["actions"]}


def corpus_misses(rows: list[dict]) -> list[tuple[dict, dict]]:
    """Rows whose parse differs from the label, each with what the parser said."""
    misses = []
    for row in rows:
        got = parse_row(row)
        if not row_matches(row, got):
            misses.append((row, got))
    return misses


def report(name: str, rows: list[dict], misses: list[tuple[dict, dict]]) -> float:
    """Print the accuracy and every miss (pytest -s shows them); return the accuracy."""
    accuracy = 1 - len(misses) / len(rows)
    seed_misses = [(r, g) for r, g in misses if r.get("seed")]
    print(f"\n{name} accuracy {accuracy:.1%} ({len(rows) - len(misses)}/{len(rows)}); "
          f"seed misses {len(seed_misses)}")
    for row, got in misses:
        print(f"MISS{' (seed)' if row.get('seed') else ''}: {row['message']!r}\n"
              f"  want {json.dumps(row['expected'], ensure_ascii=False)}\n"
              f"  got  {json.dumps(_brief(got), ensure_ascii=False)}")
    return accuracy
