"""The morning agenda in two steps: beat claims every due agent at once, workers write each claim
exactly once, and a claim nobody wrote is handed out again."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from db.models import Appointment, DailyAgenda, Lead, Message, User
from tests.support.waiting import wait_for
from webapp.database import get_db
from webapp.execution import reminder_dispatch
from webapp.execution.reminder_dispatch import (
    UNWRITTEN_AFTER,
    ReminderRules,
    claim_daily_agendas,
    unwritten_agenda_claims,
    write_daily_agendas,
)

CHICAGO = ZoneInfo("America/Chicago")
RULES = ReminderRules()
MORNING = datetime(2026, 3, 6, 8, 0, tzinfo=CHICAGO)


def _agents(app, count: int, zone: str = "America/Chicago", opted_out: bool = False,
            due_at: datetime | None = MORNING + timedelta(hours=6)) -> list[int]:
    """`count` agents in `zone`, each with a lead and (unless `due_at` is None) a follow-up.
    The lead was contacted yesterday: nothing to nudge about (nudges are tests/test_nudges.py's)."""
    ids = []
    with get_db(app).session() as session:
        first = session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
        for n in range(first + 1, first + 1 + count):
            user = User(name=f"Agent {n}", phone=f"+1312555{2000 + n}", timezone=zone,
                        opted_out=opted_out)
            session.add(user)
            session.flush()
            lead = Lead(agent_id=user.id, name=f"Lead {n}", status="contacted",
                        last_contacted=MORNING - timedelta(days=1))
            session.add(lead)
            session.flush()
            if due_at is not None:
                session.add(Appointment(lead_id=lead.id, agent_id=user.id, title="showing",
                                        due_at=due_at))
            ids.append(user.id)
        session.commit()
    return ids


def _claims(app) -> list[DailyAgenda]:
    with get_db(app).session() as session:
        return list(session.scalars(select(DailyAgenda).order_by(DailyAgenda.id)))


def _texts(app) -> list[Message]:
    with get_db(app).session() as session:
        return list(session.scalars(select(Message).where(Message.direction == "outbound")
                                    .order_by(Message.id)))


def _at_once(*calls) -> list:
    """Run the calls in threads released together; their results, in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as exc:  # a lock error would be a failure of the design
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_two_beats_at_once_claim_each_agent_once(app) -> None:
    agent_ids = _agents(app, 30)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    first, second = _at_once(lambda: claim_daily_agendas(db, now, RULES),
                             lambda: claim_daily_agendas(db, now, RULES))
    assert sorted(first + second) == sorted(set(first + second))
    claims = _claims(app)
    assert sorted(first + second) == [claim.id for claim in claims]
    assert sorted(claim.agent_id for claim in claims) == agent_ids
    assert {claim.day for claim in claims} == {date(2026, 3, 6)}
    assert all(claim.composed_at is None and claim.message_id is None for claim in claims)
    # Every later beat of the window finds them claimed.
    assert claim_daily_agendas(db, now + timedelta(minutes=1), RULES) == []


def test_only_agents_whose_agenda_hour_has_come_are_claimed(app) -> None:
    chicago = _agents(app, 2)
    _agents(app, 1, opted_out=True)
    london = _agents(app, 1, zone="Europe/London")
    _agents(app, 1, zone="Asia/Tokyo")
    db = get_db(app)
    assert claim_daily_agendas(db, MORNING - timedelta(minutes=1), RULES) == []
    # 09:30 in Chicago is 15:30 in London (past its window) and 00:30 tomorrow in Tokyo.
    claim_daily_agendas(db, MORNING + timedelta(minutes=90), RULES)
    assert [claim.agent_id for claim in _claims(app)] == chicago
    # The window closes four hours after the agenda hour.
    london_noon = datetime(2026, 3, 7, 12, 0, tzinfo=ZoneInfo("Europe/London"))
    assert claim_daily_agendas(db, london_noon, RULES) == []
    claim_daily_agendas(db, london_noon - timedelta(minutes=1), RULES)
    assert [claim.agent_id for claim in _claims(app)][-1:] == london


def test_zones_on_either_side_of_the_date_line_are_claimed_for_their_own_day(app) -> None:
    [kiritimati] = _agents(app, 1, zone="Pacific/Kiritimati")  # UTC+14
    [honolulu] = _agents(app, 1, zone="Pacific/Honolulu")  # UTC-10
    claim_daily_agendas(get_db(app), datetime(2026, 3, 5, 18, 30, tzinfo=UTC), RULES)
    assert {(claim.agent_id, claim.day) for claim in _claims(app)} == {
        (kiritimati, date(2026, 3, 6)), (honolulu, date(2026, 3, 5))}


def test_a_claim_written_twice_is_written_once(app) -> None:
    _agents(app, 3)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    claim_ids = claim_daily_agendas(db, now, RULES)
    message_ids = write_daily_agendas(db, claim_ids, now, RULES)
    assert len(message_ids) == 3
    assert write_daily_agendas(db, claim_ids, now + timedelta(seconds=5), RULES) == []
    assert [text.id for text in _texts(app)] == message_ids
    claims = _claims(app)
    assert [claim.message_id for claim in claims] == message_ids
    assert {claim.composed_at for claim in claims} == {now}
    assert _texts(app)[0].body == ("Good morning! Agenda today: 1 follow-up.\n"
                                   "2:00 PM Lead 1: showing")


def test_two_workers_writing_the_same_claims_at_once_text_each_agent_once(app) -> None:
    _agents(app, 20)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    claim_ids = claim_daily_agendas(db, now, RULES)
    sent: list[int] = []
    first, second = _at_once(
        lambda: write_daily_agendas(db, claim_ids, now, RULES, on_text=sent.append),
        lambda: write_daily_agendas(db, list(reversed(claim_ids)), now, RULES,
                                    on_text=sent.append))
    assert len(first) + len(second) == 20
    assert sorted(sent) == sorted(first + second) == [text.id for text in _texts(app)]
    assert all(claim.composed_at is not None for claim in _claims(app))


def test_an_agent_with_nothing_due_or_to_nudge_gets_no_text_and_the_claim_is_written(
        app) -> None:
    _agents(app, 1, due_at=None)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    assert write_daily_agendas(db, claim_daily_agendas(db, now, RULES), now, RULES) == []
    [claim] = _claims(app)
    assert claim.composed_at == now and claim.message_id is None
    assert _texts(app) == []


def test_a_claim_left_unwritten_is_handed_out_again(app) -> None:
    _agents(app, 2)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    claim_ids = claim_daily_agendas(db, now, RULES)
    assert unwritten_agenda_claims(db, now + UNWRITTEN_AFTER - timedelta(seconds=1)) == []
    later = now + UNWRITTEN_AFTER + timedelta(seconds=1)
    assert unwritten_agenda_claims(db, later) == claim_ids
    write_daily_agendas(db, claim_ids[:1], later, RULES)
    assert unwritten_agenda_claims(db, later) == claim_ids[1:]
    assert len(write_daily_agendas(db, claim_ids, later, RULES)) == 1
    assert unwritten_agenda_claims(db, later + timedelta(hours=1)) == []


def test_a_claim_handed_out_again_after_its_window_sends_nothing(app) -> None:
    _agents(app, 1)
    db = get_db(app)
    claim_ids = claim_daily_agendas(db, MORNING.astimezone(UTC), RULES)
    one_pm = datetime(2026, 3, 6, 13, 0, tzinfo=CHICAGO).astimezone(UTC)
    assert write_daily_agendas(db, claim_ids, one_pm, RULES) == []
    [claim] = _claims(app)
    assert claim.composed_at == one_pm and claim.message_id is None
    assert unwritten_agenda_claims(db, one_pm + timedelta(hours=1)) == []


def test_a_claim_made_as_the_window_closes_is_still_written(app) -> None:
    _agents(app, 1)
    db = get_db(app)
    last_minute = datetime(2026, 3, 6, 11, 59, 30, tzinfo=CHICAGO).astimezone(UTC)
    claim_ids = claim_daily_agendas(db, last_minute, RULES)
    assert len(write_daily_agendas(db, claim_ids, last_minute + timedelta(minutes=1),
                                   RULES)) == 1


def test_one_agent_failing_leaves_only_that_claim_unwritten(app, monkeypatch) -> None:
    _, broken, _ = _agents(app, 3)
    original = reminder_dispatch.write_agenda

    def write_agenda(session, claim, agent, zone, now):
        if agent.id == broken:
            raise RuntimeError("a bug in one agent's agenda")
        return original(session, claim, agent, zone, now)

    monkeypatch.setattr(reminder_dispatch, "write_agenda", write_agenda)
    db = get_db(app)
    now = MORNING.astimezone(UTC)
    claim_ids = claim_daily_agendas(db, now, RULES)
    assert len(write_daily_agendas(db, claim_ids, now, RULES)) == 2
    unwritten = [claim for claim in _claims(app) if claim.composed_at is None]
    assert [claim.agent_id for claim in unwritten] == [broken]
    assert unwritten_agenda_claims(db, now + UNWRITTEN_AFTER) == [unwritten[0].id]


# --- the beat task and the write task --------------------------------------------------------

def test_beat_queues_new_claims_in_batches_and_old_unwritten_ones_again(app,
                                                                       monkeypatch) -> None:
    from workers import tasks

    published: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(tasks, "_publish", lambda task, ids, **_: published.append(
        (task.name, ids)) or True)
    monkeypatch.setattr(tasks, "AGENDA_BATCH", 2)
    monkeypatch.setattr(tasks, "queue_depth", lambda broker: 0)
    _agents(app, 2)
    # The module's settings put the agenda hour at the real hour (for the worker tests).
    now = MORNING.replace(hour=app.config["AGENDA_HOUR"]).astimezone(UTC)
    with app.app_context():
        assert tasks.hand_out_agendas(now) == {"claimed": 2, "handed_out_again": 0,
                                               "queued": 2}
        [(name, left_unwritten)] = published
        assert name == "workers.tasks.write_agendas"
        _agents(app, 3)
        published.clear()
        later = now + UNWRITTEN_AFTER
        assert tasks.hand_out_agendas(later) == {"claimed": 3, "handed_out_again": 2,
                                                 "queued": 5}
        assert [len(ids) for _, ids in published] == [2, 2, 1]
        assert [i for _, ids in published for i in ids][-2:] == left_unwritten
        # A long broker queue most likely holds them already: not queued again.
        monkeypatch.setattr(tasks, "queue_depth", lambda broker: 10_000)
        published.clear()
        assert tasks.hand_out_agendas(later + timedelta(minutes=1)) == {
            "claimed": 0, "handed_out_again": 0, "queued": 0}
        assert published == []


@pytest.fixture
def settings(twilio_standin) -> dict:
    # The agenda hour is now in Chicago, so the real clock is in the window.
    return {"TWILIO_API_BASE_URL": twilio_standin.base_url, "SMS_SENDER": "twilio",
            "AGENDA_HOUR": datetime.now(CHICAGO).hour}


@pytest.mark.integration
def test_beat_and_a_real_worker_text_each_agenda_once(app, celery_worker,
                                                      twilio_standin) -> None:
    from workers.tasks import hand_out_agendas

    now = datetime.now(UTC)
    _agents(app, 3, due_at=now - timedelta(hours=1))
    [dead_workers] = _agents(app, 1, due_at=now - timedelta(hours=1))
    with get_db(app).session() as session:  # claimed ten minutes ago by a worker that died
        session.add(DailyAgenda(agent_id=dead_workers, day=now.astimezone(CHICAGO).date(),
                                created_at=now - timedelta(minutes=10)))
        session.commit()
    with app.app_context():
        assert hand_out_agendas(now) == {"claimed": 3, "handed_out_again": 1, "queued": 4}
        wait_for(lambda: len(twilio_standin.messages) >= 4)
        assert hand_out_agendas(datetime.now(UTC))["queued"] == 0
    wait_for(lambda: all(text.provider_sid for text in _texts(app)))
    bodies = sorted(message["Body"] for message in twilio_standin.messages)
    assert len(bodies) == 4 and all(body.startswith("Good morning! Agenda today:")
                                    for body in bodies)
    assert all(claim.composed_at and claim.message_id for claim in _claims(app))


@pytest.mark.integration
def test_a_redelivered_write_task_changes_nothing(app, celery_worker, twilio_standin) -> None:
    from workers.tasks import write_agendas

    now = datetime.now(UTC)
    _agents(app, 2, due_at=now - timedelta(hours=1))
    claim_ids = claim_daily_agendas(get_db(app), now, ReminderRules.from_config(app.config))
    for _ in range(3):
        write_agendas.delay(claim_ids)
    wait_for(lambda: len(twilio_standin.messages) >= 2 and all(
        claim.composed_at for claim in _claims(app)))
    wait_for(lambda: all(text.provider_sid for text in _texts(app)))
    time.sleep(1)  # what the other two copies would have added by now
    assert len(_texts(app)) == 2 and len(twilio_standin.messages) == 2
