"""Reading a correction to the plan waiting for YES (webapp/understanding/corrections.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.parser_book import CHICAGO, NOW
from webapp.understanding.corrections import match_correction

TOMORROW_10 = datetime(2026, 3, 6, 10, 0, tzinfo=CHICAGO)


@pytest.mark.parametrize(("text", "due"), [
    ("no I meant Friday at 11", datetime(2026, 3, 6, 11, 0, tzinfo=CHICAGO)),
    ("make it 4pm instead", datetime(2026, 3, 6, 16, 0, tzinfo=CHICAGO)),  # keeps the day
    ("actually, make it Monday", datetime(2026, 3, 9, 10, 0, tzinfo=CHICAGO)),  # keeps the hour
    ("Saturday at 9am instead", datetime(2026, 3, 7, 9, 0, tzinfo=CHICAGO)),
    ("sorry I meant 2:30", datetime(2026, 3, 6, 14, 30, tzinfo=CHICAGO)),
])
def test_a_new_time_keeps_what_it_does_not_say(text: str, due: datetime) -> None:
    said = match_correction(text, NOW)
    assert said is not None and said.when is not None
    assert said.due_for(TOMORROW_10, NOW) == due


def test_a_new_status_is_a_correction() -> None:
    assert match_correction("sorry, make it negotiating", NOW).status == "negotiating"


@pytest.mark.parametrize("text", ["Called Dana, no answer", "That's great",
                                  "make it a showing with Dana Cole", "Remind me to call Dana",
                                  "no", "yes"])
def test_other_messages_are_not_corrections(text: str) -> None:
    assert match_correction(text, NOW) is None
