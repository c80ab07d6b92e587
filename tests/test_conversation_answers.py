"""The conversation's dispatch of a `query` and a `noop`, with the parser replaced by a stub
that returns the contract's objects (the rule parser learns the words in its own branch): the
answer is the database's, read at once; nothing is stored; a plan waiting for YES keeps waiting.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from db.models import ExecutedPlan, User
from tests.support.answer_book import CHICAGO, NOW, load_book
from webapp.conversation.conversation import Conversation
from webapp.conversation.recent_leads import RECENT_KEY, RecentLeads
from webapp.crm.answers import answer_query
from webapp.database import get_db
from webapp.understanding.plan import Plan, UpdateStatus


@pytest.fixture
def book(app: Flask) -> dict[str, int]:
    return load_book(get_db(app))


@pytest.fixture
def alex(app: Flask, book: dict[str, int]) -> User:
    with get_db(app).session() as session:
        agent = session.get(User, book["agent"])
        session.expunge(agent)
        return agent


class StubParser:
    """Answers every message with the next prepared plan (the contract's shapes)."""

    def __init__(self) -> None:
        self.plans: list[Plan] = []

    def __call__(self, text: str, ctx: object, now: datetime) -> Plan:
        return self.plans.pop(0)


@pytest.fixture
def stub() -> StubParser:
    return StubParser()


@pytest.fixture
def conversation(app: Flask, stub: StubParser) -> Conversation:
    return dataclasses.replace(app.extensions["conversation"], parse=stub)


def _plans(app: Flask) -> int:
    with get_db(app).session() as session:
        return session.scalar(select(func.count(ExecutedPlan.id)))


def queries(book: dict[str, int]) -> list[dict]:
    dana = {"lead": "Dana Cole", "lead_id": book["Dana Cole"]}
    return [
        {"type": "lead_status", **dana},
        {"type": "lead_brief", **dana},
        {"type": "agenda", "day": "2026-03-06"},
        {"type": "follow_ups", **dana, "period": "upcoming"},
        {"type": "follow_ups", "lead": None, "lead_id": None, "period": "overdue"},
        {"type": "leads_by_status", "status": "qualified"},
        {"type": "pipeline"},
        {"type": "stats", "period": "this_month"},
        {"type": "suggestions"},
    ]


def test_every_query_is_answered_from_the_database_at_once(app, book, alex, stub,
                                                           conversation) -> None:
    for query in queries(book):
        stub.plans.append(Plan(kind="query", reply="(the parser's placeholder)", query=query))
        turn = conversation.handle(alex, "a question", "sms", NOW)
        with get_db(app).session() as session:
            expected = answer_query(session, alex.id, query, CHICAGO, NOW)
        assert (turn.kind, turn.reply) == ("query", expected), query
        assert turn.answer is not None and turn.answer.text == expected
    assert _plans(app) == 0


def test_a_query_or_a_noop_leaves_a_plan_waiting_for_yes_waiting(app, book, alex, stub,
                                                                 conversation) -> None:
    stub.plans.append(Plan(kind="plan", reply="Update Sarah Smith: qualified -> negotiating.",
                           actions=[UpdateStatus(lead="Sarah Smith", lead_id=book["Sarah Smith"],
                                                 status="negotiating",
                                                 old_status="qualified")]))
    offered = conversation.handle(alex, "mark sarah negotiating", "sms", NOW)
    assert offered.kind == "plan"
    stub.plans.append(Plan(kind="query", reply="", query={"type": "pipeline"}))
    assert conversation.handle(alex, "pipeline", "sms", NOW).reply.startswith("Pipeline, 8")
    stub.plans.append(Plan(kind="noop", reply="Dana Cole is already negotiating.",
                           mentioned_lead_ids=[book["Dana Cole"]]))
    turn = conversation.handle(alex, "mark dana negotiating", "sms", NOW)
    assert (turn.kind, turn.reply, turn.plan_id) == ("noop", "Dana Cole is already negotiating.",
                                                     None)
    assert _plans(app) == 0
    assert conversation.pending.peek(alex.phone).plan_id == offered.plan_id
    stub.plans.append(Plan(kind="confirm", reply=""))
    confirmed = conversation.handle(alex, "yes", "sms", NOW)
    assert confirmed.plan_id == offered.plan_id and _plans(app) == 1


def test_a_noop_stores_nothing_but_remembers_who_it_was_about(app, book, alex, stub,
                                                              conversation) -> None:
    stub.plans.append(Plan(kind="noop", reply="There's no open follow-up with Jane Doe.",
                           mentioned_lead_ids=[book["Jane Doe"]]))
    turn = conversation.handle(alex, "cancel my follow-up with jane", "sms", NOW)
    assert turn.reply == "There's no open follow-up with Jane Doe."
    assert conversation.pending.peek(alex.phone) is None
    assert _plans(app) == 0
    raw = conversation.recent.redis.get(RECENT_KEY.format(phone=alex.phone))
    assert RecentLeads.decode(raw) == [book["Jane Doe"]]  # "her" next can still mean Jane
