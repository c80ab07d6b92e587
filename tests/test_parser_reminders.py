"""Replies to a reminder text: DONE and SNOOZE, with the spec's time rules and clarify."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, continue_clarify, parse_message
from webapp.understanding.plan import LeadRef

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 5, 15, 0, 40, tzinfo=CHICAGO)  # Thursday 3 PM (and 40 s)
CTX = AgentContext(LeadDirectory([LeadRef(1, "John Smith"), LeadRef(2, "Sarah Smith"),
                                  LeadRef(3, "Dana Cole", "contacted")]), CHICAGO, "US")


def parse(text: str) -> dict:
    return parse_message(text, CTX, NOW).to_dict()


@pytest.mark.parametrize("text,number", [
    ("DONE", None), ("done", None), ("done 2", 2), ("DONE #2", 2), ("finished", None),
    ("did it", None), ("completed", None), ("Done!", None), ("all done thanks", None),
])
def test_done_replies(text: str, number: int | None) -> None:
    got = parse(text)
    assert (got["kind"], got["actions"], got["reminder"]) == ("done", [], {"number": number})


@pytest.mark.parametrize("text,number,due", [
    ("SNOOZE", None, "2026-03-05T16:00:00-06:00"),  # one hour, to the minute
    ("snooze 1h", None, "2026-03-05T16:00:00-06:00"),
    ("snooze 30 min", None, "2026-03-05T15:30:00-06:00"),
    ("SNOOZE tomorrow", None, "2026-03-06T10:00:00-06:00"),
    ("snooze 2 until 3pm", 2, "2026-03-06T15:00:00-06:00"),  # 3pm today is past: tomorrow
    ("remind me again in an hour", None, "2026-03-05T16:00:00-06:00"),
    ("later", None, "2026-03-05T16:00:00-06:00"),
    ("snooze #3 till next monday at 9", 3, "2026-03-09T09:00:00-05:00"),  # after DST
])
def test_snooze_replies(text: str, number: int | None, due: str) -> None:
    got = parse(text)
    assert got["kind"] == "snooze" and got["actions"] == []
    assert got["reminder"] == {"number": number, "due_at": due}


def test_snooze_into_the_past_asks_and_a_new_time_continues_it() -> None:
    plan = parse_message("snooze until 9am today", CTX, NOW)
    assert plan.kind == "clarify"
    done = continue_clarify("tomorrow at 8am", plan.clarify, CTX, NOW)
    assert done.kind == "snooze"
    assert done.reminder == {"number": None, "due_at": "2026-03-06T08:00:00-06:00"}


def test_done_inside_a_command_is_not_a_reminder_reply() -> None:
    # "done" is not a status: the agent is asked which one, nothing is marked done
    assert parse("mark Dana Cole as done")["kind"] == "clarify"
    assert parse("remind me tomorrow to call Dana")["kind"] == "plan"
    assert parse("Done with the showing for Dana Cole, she loved it")["kind"] == "plan"


def test_help_mentions_done_and_snooze() -> None:
    reply = parse("help")["reply"]
    assert "DONE" in reply and "SNOOZE" in reply
