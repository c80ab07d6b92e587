"""A fifth held-out corpus in a fifth voice: run-on voice memos and short mid-conversation replies.

tests/corpus/holdout5.jsonl was labeled from the spec (shared/spec/commands.md) before the
parser was run on it: dictated memos with several actions and no punctuation ("um", "uh",
"okay so", "also", "oh and"), one-word SMS replies (yes/no/help/undo/done/snooze variants) and
the edges of the spec's time table (a weekday said on that weekday, "this <weekday>" once
passed, "next week", "in 3 days", "at 12", "at 7", EOD, tonight, noon, "March 12", "4/7",
"in 90 minutes", moments already past). Rule changes must keep it at the same 97% bar.
Scoring reuses test_parser_corpus.
"""

from __future__ import annotations

from tests.test_parser_corpus import MIN_ACCURACY, corpus_misses, load_rows, report


def test_holdout5_is_new() -> None:
    rows = load_rows("holdout5.jsonl")
    assert len(rows) >= 150
    earlier = {row["message"].casefold()
               for name in ("commands.jsonl", "holdout.jsonl", "holdout2.jsonl", "holdout3.jsonl",
                            "holdout4.jsonl")
               for row in load_rows(name)}
    shared = [row["message"] for row in rows if row["message"].casefold() in earlier]
    assert len([m for m in shared if len(m.split()) > 4]) <= 5, shared


def test_holdout5_accuracy() -> None:
    rows = load_rows("holdout5.jsonl")
    accuracy = report("holdout5", rows, corpus_misses(rows))
    assert accuracy >= MIN_ACCURACY
