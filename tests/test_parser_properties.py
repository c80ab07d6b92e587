"""Properties of the parser on any input: it never raises, stays fast, and never schedules
into the past or with a naive datetime."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.parser import AgentContext, parse_message
from webapp.understanding.plan import KINDS, LeadRef, ScheduleFollowUp

ZONE = ZoneInfo("America/Chicago")
LEADS = LeadDirectory([LeadRef(1, "John Doe", "qualified"), LeadRef(2, "Jane Doe"),
                       LeadRef(3, "Dana Cole", "contacted"), LeadRef(4, "José García"),
                       LeadRef(5, "April Jones"), LeadRef(6, "Mark Price")])
CTX = AgentContext(LEADS, ZONE, country="US", recent_lead_ids=(3,))
EMOJI = st.sampled_from(["👍", "🏠", "🎉", "❤️", "👨‍👩‍👧", "🇺🇸", "✅", "😂", "\u200d", "\ufe0f"])
WORDS = st.sampled_from(
    "remind me to call dana john doe tomorrow at 3 pm mark as qualified lost update status "
    "her him called texted met viewing new lead 312-555-0123 next week yesterday monday "
    "and then , . ? ! no yes stop in 2 hours 4/7 eod tonight jose april may".split()
)
MESSAGES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(WORDS, EMOJI), max_size=40).map(" ".join),
)
NOWS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                    timezones=st.just(ZONE))


def _check(plan, now: datetime) -> None:
    assert plan.kind in KINDS
    assert isinstance(plan.reply, str) and plan.reply
    if plan.kind != "plan":
        assert plan.actions == []
    for action in plan.actions:
        if isinstance(action, ScheduleFollowUp):
            assert action.due_at.tzinfo is not None
            assert action.due_at > now
    plan.to_dict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MESSAGES, NOWS)
def test_any_text_parses_to_a_known_kind(text: str, now: datetime) -> None:
    _check(parse_message(text, CTX, now), now)


@settings(max_examples=200, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=12).map(" ".join), NOWS)
def test_follow_ups_are_aware_and_in_the_future(tail: str, now: datetime) -> None:
    _check(parse_message(f"remind me to call Dana {tail}", CTX, now), now)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.text(min_size=1, max_size=30), EMOJI, WORDS), min_size=1,
                max_size=20).map(lambda parts: (" ".join(parts) * 5000)[:5000]))
def test_five_thousand_characters_return_unknown_quickly(text: str) -> None:
    start = time.perf_counter()
    plan = parse_message(text, CTX, datetime(2026, 3, 5, 15, tzinfo=ZONE))
    assert time.perf_counter() - start < 5  # a guard against runaway backtracking only
    assert plan.kind == "unknown"


def test_long_garbage_of_words_is_unknown() -> None:
    text = ("called dana " * 500)[:5000]
    plan = parse_message(text, CTX, datetime(2026, 3, 5, 15, tzinfo=ZONE))
    assert plan.kind == "unknown"


def test_emoji_everywhere_do_not_change_the_meaning() -> None:
    now = datetime(2026, 3, 5, 15, tzinfo=ZONE)
    plain = parse_message("Called Dana Cole, no answer", CTX, now).to_dict()
    decorated = parse_message("📞 Called 🙄 Dana Cole, no answer 😩", CTX, now).to_dict()
    assert decorated["actions"] == plain["actions"]


def test_deadline_is_generous_for_any_now() -> None:
    now = datetime(2026, 11, 1, 1, 30, tzinfo=ZONE) + timedelta(hours=1)  # the repeated hour
    plan = parse_message("remind me to call Dana in 30 minutes", CTX, now)
    _check(plan, now)
