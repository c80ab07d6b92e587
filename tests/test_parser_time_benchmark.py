"""The shared time-expression benchmark, scored through the whole parser (not just when.py):
"Remind me to call <a lead> <phrase>" must come out as a follow-up due at the expected time."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.time_benchmark import MESSAGE, benchmark_path, load_rows, score, zone_for
from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, parse_message
from webapp.understanding.plan import LeadRef, ScheduleFollowUp

MIN_SCORE = 0.90
LEADS = LeadDirectory([LeadRef(1, "John Doe", "new"), LeadRef(2, "Dana Cole", "new")])


def _through_parser(message: str, now: datetime) -> datetime | None:
    ctx = AgentContext(LEADS, now.tzinfo, country="US")
    plan = parse_message(message, ctx, now)
    follow = [a for a in plan.actions if isinstance(a, ScheduleFollowUp)]
    if plan.kind != "plan" or len(follow) != 1 or follow[0].lead != "John Doe":
        return None
    return follow[0].due_at


def test_time_benchmark_through_the_parser() -> None:
    if not benchmark_path().exists():
        pytest.skip(f"shared benchmark not found at {benchmark_path()} "
                    "(set FIELDLINE_SHARED_DIR to the shared/ folder)")
    rows = load_rows()
    assert "John Doe" in MESSAGE
    accuracy, misses = score(_through_parser, rows)
    print(f"\ntime benchmark through the parser: {accuracy:.1%} of {len(rows)}")
    for row, got in misses:
        local = got.astimezone(zone_for(row)).isoformat() if got else None
        print(f"  MISS {row['phrase']!r}: want {row['expected']} ({row['grain']}), got {local}")
    assert accuracy >= MIN_SCORE
