"""The labeled corpus: every message's kind and actions, as the spec means them.

Expectations were written from the spec (../shared/spec/commands.md beside the clone), not parser
output. Notes and titles compare trimmed and casefolded; every other field exactly (and, for
replies to a reminder, the `reminder` object when the row gives one). Rows marked "seed" quote
the spec itself and must all pass; the whole corpus must reach 97%. The helpers are in
tests/support/corpus.py, shared with test_parser_holdouts.py (independently written corpora).
"""

from __future__ import annotations

import json

import pytest

from tests.support.corpus import (
    MIN_ACCURACY,
    corpus_misses,
    load_rows,
    parse_row,
    report,
    row_matches,
)
from webapp.understanding.plan import KINDS


def test_corpus_is_big_and_covers_every_kind() -> None:
    rows = load_rows()
    assert len(rows) >= 300
    kinds = {row["expected"]["kind"] for row in rows}
    assert kinds == set(KINDS)


def test_corpus_accuracy() -> None:
    rows = load_rows()
    misses = corpus_misses(rows)
    accuracy = report("corpus", rows, misses)
    seed_misses = [(r, g) for r, g in misses if r.get("seed")]
    assert not seed_misses, f"{len(seed_misses)} spec (seed) rows missed"
    assert accuracy >= MIN_ACCURACY


@pytest.mark.parametrize("row", [r for r in load_rows() if r.get("seed")],
                         ids=lambda r: r["message"][:40])
def test_seed_row(row: dict) -> None:
    got = parse_row(row)
    assert row_matches(row, got), json.dumps(got, ensure_ascii=False)
