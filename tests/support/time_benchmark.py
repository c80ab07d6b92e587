"""Score a time resolver on the shared Duckling-derived benchmark (see benchmarks/README.md).

Importable by other tests: `load_rows()` finds the JSONL file, `score(fn)` runs it.
`fn(message, now)` gets "Remind me to call John Doe <phrase>" and the aware reference time,
and returns the due datetime (or None).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

DEV_FILE = "time_expressions_dev.jsonl"
MESSAGE = "Remind me to call John Doe {phrase}"


def shared_dir() -> Path:
    """FIELDLINE_SHARED_DIR, else <repo>/../shared."""
    env = os.environ.get("FIELDLINE_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared"


def benchmark_path(name: str = DEV_FILE) -> Path:
    return shared_dir() / "benchmarks" / name


def load_rows(name: str = DEV_FILE) -> list[dict]:
    """The benchmark rows; FileNotFoundError when the shared directory is missing."""
    with benchmark_path(name).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def zone_for(row: dict) -> ZoneInfo:
    """Etc/GMT+2 is UTC-2 (POSIX sign inversion)."""
    off = int(row["utc_offset_hours"])
    return ZoneInfo("Etc/UTC" if off == 0 else f"Etc/GMT{-off:+d}")


def row_ok(row: dict, due: datetime | None) -> bool:
    if due is None:
        return False
    local = due.astimezone(zone_for(row))
    expected = datetime.fromisoformat(row["expected"])
    if row["grain"] in ("day", "week"):
        return local.date() == expected.date()
    return (local.date(), local.hour, local.minute) == (
        expected.date(), expected.hour, expected.minute)


def score(fn: Callable[[str, datetime], datetime | None], rows: list[dict] | None = None,
          ) -> tuple[float, list[tuple[dict, datetime | None]]]:
    """(fraction right, [(row, got) for each miss])."""
    rows = load_rows() if rows is None else rows
    misses = []
    for row in rows:
        now = datetime.fromisoformat(row["ref"]).replace(tzinfo=zone_for(row))
        try:
            got = fn(MESSAGE.format(phrase=row["phrase"]), now)
        except Exception:  # a crash is a miss, reported by the caller
            got = None
        if not row_ok(row, got):
            misses.append((row, got))
    return 1 - len(misses) / len(rows), misses


def find_when_due(message: str, now: datetime) -> datetime | None:
    from webapp.understanding.when import find_when

    found = find_when(message, now)
    return found.due_at if found else None


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    frac, missed = score(find_when_due)
    for row, got in missed:
        print(f"MISS {row['phrase']!r:45} expected {row['expected']} ({row['grain']}) got {got}")
    print(f"score {frac:.3f}")
