"""The labelled corpus of reading and changing what is there (tests/corpus/changes.jsonl), parsed
against its book (book.json, the spec's "Moving a book in and out" format) loaded into a real
database, as the conversation and `assistant parse` read it: the lead directory and the SQL book.

Labelled from the spec before the parser was run on it. Voices: terse texts with typos,
speech-to-text, polite sentences, multi-action; "spec" rows quote the spec's own examples.
Printing every miss (pytest -s) shows what a rule change broke.
"""

from __future__ import annotations

import pytest

from tests.support.book_corpus import (
    database_agent,
    load_into_database,
    load_rows,
    memory_agent,
    misses,
    parse_row,
    report,
    row_matches,
)

MIN_ACCURACY = 0.97
NEW_ACTIONS = {"reschedule_follow_up", "cancel_follow_up", "complete_follow_up", "update_lead"}
NEW_QUERIES = {"lead_brief", "agenda", "follow_ups", "leads_by_status", "pipeline", "stats",
               "suggestions"}


@pytest.fixture
def corpus_ctx(db):
    agent = load_into_database(db)
    return database_agent(db, agent)


def test_corpus_covers_every_new_command_in_every_voice() -> None:
    rows = load_rows()
    assert len(rows) >= 250
    actions = {a["type"] for r in rows for a in r["expected"]["actions"]}
    queries = {r["expected"]["query"]["type"] for r in rows if "query" in r["expected"]}
    kinds = {r["expected"]["kind"] for r in rows}
    assert NEW_ACTIONS <= actions
    assert NEW_QUERIES <= queries
    assert {"noop", "clarify", "unknown_lead", "plan", "query"} <= kinds
    assert {"terse", "speech", "polite", "multi", "spec"} <= {r["voice"] for r in rows}
    follow_up_periods = {r["expected"]["query"].get("period") for r in rows
                         if r["expected"].get("query", {}).get("type") == "follow_ups"}
    assert follow_up_periods == {"this_week", "next_week", "overdue", "upcoming"}
    stats_periods = {r["expected"]["query"].get("period") for r in rows
                     if r["expected"].get("query", {}).get("type") == "stats"}
    assert stats_periods == {"this_week", "last_week", "this_month", "last_month", "this_year"}


def test_corpus_accuracy_with_the_book_in_the_database(corpus_ctx) -> None:
    rows = load_rows()
    missed = misses(rows, lambda row: parse_row(row, corpus_ctx))
    assert report("changes", rows, missed) >= MIN_ACCURACY


def test_the_sql_book_and_the_memory_book_give_the_same_answers(corpus_ctx) -> None:
    """The parser's unit tests and the benchmark use the in-memory book: it must mean what the
    SQL one means, row by row (ids aside)."""
    memory_ctx, _ = memory_agent()
    for row in load_rows():
        from_sql = parse_row(row, corpus_ctx)
        from_memory = parse_row(row, memory_ctx)
        assert row_matches({"expected": _without_ids(from_memory)}, from_sql), row["message"]
        assert from_sql["reply"] == from_memory["reply"], row["message"]


def _without_ids(got: dict) -> dict:
    out = {"kind": got["kind"], "actions": got["actions"]}
    if got.get("query"):
        out["query"] = {k: v for k, v in got["query"].items() if not k.endswith("_id")}
    return out
