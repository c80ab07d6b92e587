"""A second held-out corpus, to measure how far the rules generalize beyond their own corpora.

tests/corpus/holdout2.jsonl was written after commands.jsonl and holdout.jsonl were at 100%,
phrased the way other agents talk (showings, offers, inspections, closings; texting shorthand,
speech-to-text, spelled-out times, split day and time, family names) and labeled from the spec
(shared/spec/commands.md) before the parser was run on it. It scored 93.1% then; rule changes
must keep it at the same 97% bar as the other corpora. Scoring reuses test_parser_corpus.
"""

from __future__ import annotations

from tests.test_parser_corpus import MIN_ACCURACY, corpus_misses, load_rows, report

_KINDS = {"plan", "confirm", "cancel", "help", "undo", "query", "clarify", "unknown_lead",
          "unknown", "done", "snooze"}


def test_holdout2_is_new_and_varied() -> None:
    rows = load_rows("holdout2.jsonl")
    assert len(rows) >= 200
    earlier = {row["message"].casefold() for name in ("commands.jsonl", "holdout.jsonl")
               for row in load_rows(name)}
    shared = [row["message"] for row in rows if row["message"].casefold() in earlier]
    assert len([m for m in shared if len(m.split()) > 4]) <= 5, shared
    assert {row["expected"]["kind"] for row in rows} == _KINDS


def test_holdout2_accuracy() -> None:
    rows = load_rows("holdout2.jsonl")
    accuracy = report("holdout2", rows, corpus_misses(rows))
    assert accuracy >= MIN_ACCURACY
