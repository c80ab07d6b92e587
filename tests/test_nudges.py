"""Nudges in the morning agenda (issue 19): which leads, how many, numbered, never repeated on
consecutive days unless worse; "2 is lost" and "remind me about 1 tomorrow" by number; turned
off by "nudges off". SQLite and PostgreSQL, on fixed books."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from db.models import Appointment, ExecutedPlan, Lead, Message, Nudge, User
from tests.support.openai_standin import OpenAIStandIn
from tests.support.parser_book import DIRECTORY, NOW
from tests.support.voice import VoicePhone, said
from tests.support.waiting import wait_for
from tests.support.web import post_form, sign_in
from webapp.crm.nudges import pick_nudges
from webapp.database import get_db
from webapp.execution.reminder_dispatch import ReminderRules, dispatch_daily_agendas
from webapp.understanding.parser import AgentContext
from webapp.understanding.parser_choice import make_parser

CHICAGO = ZoneInfo("America/Chicago")
RULES = ReminderRules()
MORNING = datetime(2026, 4, 14, 8, 5, tzinfo=CHICAGO)  # a Tuesday, in the agenda's window


def _set(app, name: str, **values) -> int:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.name == name))
        for key, value in values.items():
            setattr(lead, key, value)
        session.commit()
        return lead.id


def _add(app, agent, name: str, status: str, created: datetime,
         contacted: datetime | None = None) -> int:
    with get_db(app).session() as session:
        lead = Lead(agent_id=agent.id, name=name, status=status, created_at=created,
                    last_contacted=contacted)
        session.add(lead)
        session.commit()
        return lead.id


def _follow_up(app, agent, lead_name: str, due_at: datetime, snoozes: int = 0) -> None:
    with get_db(app).session() as session:
        lead = session.scalar(select(Lead).where(Lead.name == lead_name))
        session.add(Appointment(lead_id=lead.id, agent_id=agent.id, title="send comps",
                                due_at=due_at, snooze_count=snoozes))
        session.commit()


def _quiet_book(app, agent, now: datetime) -> None:
    """The agent's leads, all contacted yesterday: nothing to nudge about until a test says."""
    with get_db(app).session() as session:
        session.execute(update(Lead).values(last_contacted=now - timedelta(days=1),
                                            created_at=now - timedelta(days=60),
                                            status="contacted"))
        session.commit()


def _agenda_text(app, now: datetime) -> str | None:
    ids = dispatch_daily_agendas(get_db(app), now.astimezone(UTC), RULES)
    if not ids:
        return None
    with get_db(app).session() as session:
        return session.get(Message, ids[0]).body


def _nudged(app, day: date) -> dict[int, str]:
    with get_db(app).session() as session:
        return dict(session.execute(
            select(Nudge.number, Lead.name).join(Lead, Lead.id == Nudge.lead_id)
            .where(Nudge.day == day).order_by(Nudge.number)).all())


def test_the_agenda_lists_follow_ups_then_three_numbered_nudges_most_urgent_first(
        app, agent) -> None:
    _quiet_book(app, agent, MORNING)
    _follow_up(app, agent, "John Doe", MORNING.replace(hour=14, minute=0))
    _add(app, agent, "Nina Park", "new", MORNING - timedelta(hours=15))  # new, never contacted
    _set(app, "Dana Cole", status="negotiating", last_contacted=MORNING - timedelta(days=9))
    _set(app, "John Smith", status="qualified", last_contacted=MORNING - timedelta(days=20))
    _set(app, "Sarah Smith", status="follow_up", updated_at=MORNING - timedelta(days=8))
    text = _agenda_text(app, MORNING)
    assert text == (
        "Good morning! Agenda today: 1 follow-up.\n"
        "2:00 PM John Doe: send comps\n"
        "Worth a look:\n"
        "1. Nina Park: new since Mon Apr 13, never contacted\n"
        "2. Dana Cole: negotiating, no contact for 9 days\n"
        "3. John Smith: qualified, no contact for 20 days\n"
        'Reply e.g. "2 is lost" or "remind me about 1 tomorrow".')
    assert _nudged(app, MORNING.date()) == {1: "Nina Park", 2: "Dana Cole", 3: "John Smith"}


def test_a_lead_the_agenda_already_lists_is_not_nudged_again(app, agent) -> None:
    _quiet_book(app, agent, MORNING)
    _set(app, "Dana Cole", status="negotiating", last_contacted=MORNING - timedelta(days=9))
    _follow_up(app, agent, "Dana Cole", MORNING - timedelta(days=1))  # overdue: on the agenda
    text = _agenda_text(app, MORNING)
    assert "Dana Cole" in text and "Worth a look" not in text


def test_nothing_due_but_a_nudge_still_sends_the_agenda(app, agent) -> None:
    _quiet_book(app, agent, MORNING)
    _follow_up(app, agent, "John Doe", MORNING + timedelta(days=3), snoozes=3)
    text = _agenda_text(app, MORNING)
    assert text == ("Good morning! Nothing on your agenda today.\n"
                    "Worth a look:\n"
                    "1. John Doe: snoozed 3 times (send comps), due Fri Apr 17, 8:05 AM\n"
                    'Reply e.g. "1 is lost" or "remind me about 1 tomorrow".')


def test_nudges_off_leaves_only_the_follow_ups_and_no_text_when_none(app, agent) -> None:
    _quiet_book(app, agent, MORNING)
    _add(app, agent, "Nina Park", "new", MORNING - timedelta(hours=15))
    with get_db(app).session() as session:
        session.execute(update(User).values(nudges_on=False))
        session.commit()
    assert _agenda_text(app, MORNING) is None
    assert _nudged(app, MORNING.date()) == {}


def test_a_nudge_is_not_repeated_the_next_day_unless_its_reason_got_worse(app, agent) -> None:
    _quiet_book(app, agent, MORNING)
    _set(app, "Dana Cole", status="negotiating", last_contacted=MORNING - timedelta(days=13))
    _set(app, "John Smith", status="qualified", last_contacted=MORNING - timedelta(days=8))
    _add(app, agent, "Nina Park", "new", MORNING - timedelta(days=5))
    _add(app, agent, "Omar Reyes", "new", MORNING - timedelta(days=6))
    _add(app, agent, "Pia Lund", "new", MORNING - timedelta(days=30))
    _add(app, agent, "Quinn Abel", "new", MORNING - timedelta(days=31))
    first = MORNING
    assert _agenda_text(app, first)
    assert _nudged(app, first.date()) == {1: "Nina Park", 2: "Omar Reyes", 3: "Pia Lund"}
    second = first + timedelta(days=1)
    assert _agenda_text(app, second)
    # Nina (6 days) and Omar (7 days: a step further) — Omar got worse and comes back; Pia
    # (31 days, no new step) does not; the free places go to the next most urgent.
    assert _nudged(app, second.date()) == {1: "Omar Reyes", 2: "Quinn Abel",
                                           3: "Dana Cole"}
    third = second + timedelta(days=1)
    assert _agenda_text(app, third)
    # Not on consecutive days: Nina and Pia may come back; Dana (15 days, no new step) may not.
    assert _nudged(app, third.date()) == {1: "Nina Park", 2: "Pia Lund", 3: "John Smith"}


def test_pick_nudges_reads_a_page_not_the_book(app, agent, db_session) -> None:
    _quiet_book(app, agent, MORNING)
    for n in range(40):
        _add(app, agent, f"Lead {n:02d}", "new", MORNING - timedelta(hours=n + 1))
    picked = pick_nudges(db_session, agent.id, MORNING.date(), CHICAGO, MORNING)
    assert [p.suggestion.lead for p in picked] == ["Lead 00", "Lead 01", "Lead 02"]
    assert [p.number for p in picked] == [1, 2, 3]


# ---- acting on a nudge by number ---------------------------------------------------------


@pytest.fixture
def nudged_today(app, agent) -> datetime:
    """This morning's agenda, sent just now, with Nina Park as nudge 1 and Dana Cole as 2."""
    now = datetime.now(UTC)
    local = now.astimezone(CHICAGO)
    _quiet_book(app, agent, now)
    _add(app, agent, "Nina Park", "new", now - timedelta(hours=2))
    _set(app, "Dana Cole", status="negotiating", last_contacted=now - timedelta(days=9))
    rules = ReminderRules(agenda_hour=local.hour)
    assert dispatch_daily_agendas(get_db(app), now, rules)
    assert _nudged(app, local.date()) == {1: "Nina Park", 2: "Dana Cole"}
    return now


def _status(app, name: str) -> str:
    with get_db(app).session() as session:
        return session.scalar(select(Lead.status).where(Lead.name == name))


def test_two_is_lost_marks_the_second_nudge_lost_after_yes(app, agent, phone, nudged_today,
                                                          celery_worker) -> None:
    offer = phone.text("2 is lost")
    assert offer.startswith("Update Dana Cole: negotiating -> closed_lost.")
    phone.text("YES")
    wait_for(lambda: _status(app, "Dana Cole") == "closed_lost")


def test_remind_me_about_one_tomorrow_schedules_for_the_first_nudge(app, agent, phone,
                                                                   nudged_today) -> None:
    offer = phone.text("remind me about 1 tomorrow")
    assert offer.startswith("Follow up with Nina Park")
    tomorrow = (nudged_today.astimezone(CHICAGO) + timedelta(days=1)).strftime("%a %b %-d")
    assert tomorrow in offer


def test_by_voice_two_is_lost_names_the_lead(app, agent, nudged_today) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("Two is lost."))
    assert "Dana Cole" in heard and "lost" in heard


def test_a_number_means_nothing_without_todays_nudges(app, agent, phone) -> None:
    reply = phone.text("2 is lost")
    assert "Dana Cole" not in reply
    with get_db(app).session() as session:
        assert session.scalar(select(Lead.status).where(Lead.name == "Dana Cole")) == "negotiating"


def test_a_count_or_a_time_is_never_read_as_a_nudge(app, agent, phone, nudged_today) -> None:
    reply = phone.text("remind me to call Nina Park at 2 tomorrow")
    assert "Dana Cole" not in reply and "2:00 PM" in reply


# ---- settings ----------------------------------------------------------------------------


def _agent_settings(app) -> tuple[bool, bool]:
    with get_db(app).session() as session:
        user = session.scalar(select(User))
        return user.alerts_at_night, user.nudges_on


def test_settings_by_text_change_at_once_and_undo_puts_them_back(app, agent, phone,
                                                                 celery_worker) -> None:
    assert _agent_settings(app) == (False, True)
    assert phone.text("nudges off").startswith("Nudges are off")
    assert phone.text("Alerts at night on.").startswith("Alerts at night are on")
    assert _agent_settings(app) == (True, False)
    assert phone.text("alerts at night on").startswith("No change")
    assert phone.text("settings") == ("Your settings: alerts at night on, nudges off. "
                                      'Text "alerts at night on" or "off", "nudges on" or '
                                      '"off".')
    offer = phone.text("undo")
    assert "alerts at night off" in offer
    phone.text("YES")
    wait_for(lambda: _agent_settings(app) == (False, False))


def test_settings_by_voice(app, agent) -> None:
    call = VoicePhone(app, agent.phone)
    call.call()
    heard = said(call.say("Turn off nudges."))
    assert "Nudges are off" in heard
    assert _agent_settings(app) == (False, False)


def test_a_note_that_mentions_nudges_is_not_a_setting(app, agent, phone) -> None:
    reply = phone.text("Called Dana, she said no more nudges about the price")
    assert reply.startswith("Log call with Dana Cole")
    assert _agent_settings(app) == (False, True)


def test_assistant_parse_reads_settings(cli, agent) -> None:
    result = cli.invoke(args=["assistant", "parse", "--agent", agent.phone, "nudges off"])
    assert result.exit_code == 0, result.output
    assert '"kind": "settings"' in result.output and '"nudges": false' in result.output




def test_the_web_settings_page_switches_both_through_a_plan(app, agent) -> None:
    client = sign_in(app, agent.id)
    page = client.get("/app/settings").get_data(as_text=True)
    assert 'name="nudges" checked' in page and 'name="alerts_at_night" >' in page
    saved = post_form(client, "/app/settings", "/app/settings", {"alerts_at_night": "on"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("done=switched")
    assert _agent_settings(app) == (True, False)
    with get_db(app).session() as session:
        plan = session.scalar(select(ExecutedPlan))
        assert (plan.channel, plan.state) == ("web", "executed")
    same = post_form(client, "/app/settings", "/app/settings", {"alerts_at_night": "on"})
    assert same.status_code == 422 and "Nothing was changed" in same.get_data(as_text=True)
    refused = client.post("/app/settings", data={"nudges": "on"})  # no CSRF token
    assert refused.status_code in (400, 403)
    assert _agent_settings(app) == (True, False)


def test_with_a_model_settings_are_still_read_by_the_rules_and_never_sent_to_it() -> None:
    with OpenAIStandIn() as model:
        parser = make_parser({"OPENAI_API_KEY": model.api_key, "OPENAI_BASE_URL": model.base_url,
                              "OPENAI_MODEL": "gpt-4o-mini", "OPENAI_TIMEOUT": 3.0,
                              "PARSER": "llm"})
        try:
            plan = parser("Turn off nudges", AgentContext(DIRECTORY, CHICAGO, "US", ()), NOW)
        finally:
            parser.model.close()
        assert (plan.kind, plan.settings) == ("settings", {"nudges": False})
        assert model.completions == []
