"""`flask --app wsgi assistant parse` with an agent's book brought in by `data import`: the
new shapes in the spec's output (kind, actions, reply, query), read from the database, and
nothing written. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from db.models import Appointment, ExecutedPlan, User
from tests.support.book_corpus import CORPUS, book_agent
from webapp.database import get_db

NOW = "2026-03-05T15:00"  # a local time in the agent's zone


def _agent_with_book(app, cli) -> str:
    meta = book_agent()["agent"]
    with get_db(app).session() as session:
        session.add(User(name=meta["name"], phone=meta["phone"], timezone=meta["timezone"]))
        session.commit()
    result = cli.invoke(args=["data", "import", str(CORPUS / "book.json"), "--agent",
                              meta["phone"]])
    assert result.exit_code == 0, result.output
    return meta["phone"]


def _parse(cli, phone: str, message: str) -> dict:
    result = cli.invoke(args=["assistant", "parse", "--agent", phone, "--now", NOW, message])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_change_names_the_follow_up_from_the_book(app, cli) -> None:
    phone = _agent_with_book(app, cli)
    got = _parse(cli, phone, "Move my 2pm with John Doe to 4")
    assert got["kind"] == "plan"
    [action] = got["actions"]
    assert {k: action[k] for k in ("type", "lead", "due_at", "title")} == {
        "type": "reschedule_follow_up", "lead": "John Doe",
        "due_at": "2026-03-06T16:00:00-06:00", "title": "send the contract"}
    assert got["reply"].endswith("Reply YES to confirm or NO to cancel.")


def test_jsonl_answers_changes_noops_and_questions_and_writes_nothing(app, cli) -> None:
    phone = _agent_with_book(app, cli)
    lines = [{"message": "cancel the follow-up with Dana"},
             {"message": "Mark Dana Cole as negotiating"},
             {"message": "Remind me to call everyone I haven't contacted in 30 days"},
             {"message": "what follow-ups do I have this week?"},
             {"message": "agenda for Friday", "now": "2026-03-06T09:00"}]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\n"
    result = cli.invoke(args=["assistant", "parse", "--agent", phone, "--now", NOW, "--jsonl"],
                        input=stdin)
    assert result.exit_code == 0, result.output
    cancel, noop, many, week, friday = (json.loads(x) for x in result.output.splitlines())
    assert [(a["type"], a["title"]) for a in cancel["actions"]] == [
        ("cancel_follow_up", "send comps")]
    assert (noop["kind"], noop["actions"], noop["reply"]) == (
        "noop", [], "Dana Cole is already negotiating.")
    assert len(many["actions"]) == 17 and many["reply"].startswith("Follow up with 17 leads")
    assert week["kind"] == "query" and week["query"] == {
        "type": "follow_ups", "lead": None, "lead_id": None, "period": "this_week"}
    assert friday["query"] == {"type": "agenda", "day": "2026-03-06"}
    with get_db(app).session() as session:
        assert session.scalar(select(func.count()).select_from(ExecutedPlan)) == 0
        assert session.scalar(select(func.count()).select_from(Appointment).where(
            Appointment.state == "cancelled")) == 1  # the book's own; none by the parse
