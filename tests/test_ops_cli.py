"""`flask ops ...`: the rows the workers deliberately leave to a person, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from db.models import ExecutedPlan, Message, User
from webapp.cli.ops import ops_cli
from webapp.database import get_db


@pytest.fixture
def ops(app: Flask) -> FlaskCliRunner:
    app.cli.add_command(ops_cli)  # a no-op once webapp/cli registers the group itself
    return app.test_cli_runner()


@pytest.fixture
def two_agents(app: Flask) -> tuple[int, int]:
    with get_db(app).session() as session:
        alex = User(name="Alex Rivera", phone="+13125550100", timezone="America/Chicago")
        blair = User(name="Blair Chen", phone="+13125550101", timezone="America/Chicago")
        session.add_all([alex, blair])
        session.commit()
        return alex.id, blair.id


def _text(app: Flask, agent_id: int, status: str, body: str, plan_id: str | None = None,
          direction: str = "outbound", error_code: str | None = None) -> int:
    with get_db(app).session() as session:
        message = Message(direction=direction, agent_id=agent_id, phone="+13125550100",
                          body=body, status=status, plan_id=plan_id, error_code=error_code)
        session.add(message)
        session.commit()
        return message.id


def _plan(app: Flask, agent_id: int, plan_id: str, state: str, age: timedelta,
          error: str | None = None, attempts: int = 0) -> None:
    with get_db(app).session() as session:
        session.add(ExecutedPlan(plan_id=plan_id, agent_id=agent_id, channel="sms", state=state,
                                 plan={"actions": [], "summary": f"summary of {plan_id}"},
                                 error=error, attempts=attempts,
                                 confirmed_at=datetime.now(UTC) - age))
        session.commit()


def test_unknown_sends_lists_only_outbound_texts_whose_outcome_is_unknown(
    app: Flask, ops: FlaskCliRunner, two_agents: tuple[int, int]
) -> None:
    alex, blair = two_agents
    unknown = _text(app, alex, "unknown", "✅ Done! Logged call with John Doe.", "plan-a",
                    error_code="stuck_sending")
    _text(app, alex, "sent", "✅ Done! sent fine")
    _text(app, alex, "queued", "✅ Done! still queued")
    _text(app, alex, "unknown", "an inbound text", direction="inbound")
    other = _text(app, blair, "unknown", "Blair's text " + "x" * 200)

    result = ops.invoke(args=["ops", "unknown-sends"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "id\tcreated\tto\tplan\treason\tbody"
    assert lines[1].startswith(f"{unknown}\t")
    assert "\tplan-a\tstuck_sending\t✅ Done! Logged" in lines[1]
    assert lines[2].startswith(f"{other}\t") and lines[2].endswith("…")  # bodies are cut short
    assert lines[3] == "2 text(s) with an unknown outcome."
    assert "sent fine" not in result.output and "inbound" not in result.output

    only_alex = ops.invoke(args=["ops", "unknown-sends", "--agent", "(312) 555-0100"])
    assert f"{unknown}\t" in only_alex.output and f"\n{other}\t" not in only_alex.output


def test_unknown_sends_check_exits_1_only_when_something_is_listed(
    app: Flask, ops: FlaskCliRunner, two_agents: tuple[int, int]
) -> None:
    quiet = ops.invoke(args=["ops", "unknown-sends", "--check"])
    assert quiet.exit_code == 0 and "No texts with an unknown outcome." in quiet.output

    _text(app, two_agents[0], "unknown", "maybe sent")
    assert ops.invoke(args=["ops", "unknown-sends", "--check"]).exit_code == 1
    assert ops.invoke(args=["ops", "unknown-sends", "--check", "--since-hours", "1"]).exit_code == 1


def test_an_unknown_agent_is_an_error_not_an_empty_list(ops: FlaskCliRunner, two_agents) -> None:
    result = ops.invoke(args=["ops", "unknown-sends", "--agent", "+13125559999"])
    assert result.exit_code != 0 and "no agent with phone +13125559999" in result.output
    result = ops.invoke(args=["ops", "plans", "--agent", "+13125559999"])
    assert result.exit_code != 0 and "no agent with phone" in result.output


def test_plans_lists_confirmed_plans_oldest_first_with_attempts(
    app: Flask, ops: FlaskCliRunner, two_agents: tuple[int, int]
) -> None:
    alex, blair = two_agents
    _plan(app, alex, "fresh", "confirmed", timedelta(seconds=5))
    _plan(app, blair, "stuck", "confirmed", timedelta(minutes=10), attempts=3)
    _plan(app, alex, "ran-already", "executed", timedelta(minutes=20))

    result = ops.invoke(args=["ops", "plans"])  # --state confirmed is the default

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].startswith("stuck\t+13125550101\t") and "\t3\tsummary of stuck" in lines[1]
    assert lines[2].startswith("fresh\t+13125550100\t")
    assert lines[3] == "2 confirmed plan(s)."
    assert "ran-already" not in result.output

    older = ops.invoke(args=["ops", "plans", "--older-than", "120", "--check"])
    assert older.exit_code == 1
    assert "stuck" in older.output and "fresh" not in older.output
    mine = ops.invoke(args=["ops", "plans", "--agent", "+13125550100"])
    assert "fresh" in mine.output and "stuck" not in mine.output


def test_plans_failed_shows_why(app: Flask, ops: FlaskCliRunner, two_agents) -> None:
    _plan(app, two_agents[0], "gave-up", "failed", timedelta(minutes=7),
          error="it could not be completed in time", attempts=5)
    result = ops.invoke(args=["ops", "plans", "--state", "failed"])
    assert "gave-up" in result.output and "it could not be completed in time" in result.output
    assert ops.invoke(args=["ops", "plans", "--state", "confirmed"]).output == (
        "No confirmed plans.\n")
    assert ops.invoke(args=["ops", "plans", "--state", "lost"]).exit_code == 2


def test_summary_counts_plans_and_outbound_texts_by_state(
    app: Flask, ops: FlaskCliRunner, two_agents: tuple[int, int]
) -> None:
    assert ops.invoke(args=["ops", "summary"]).output == "plans: none\noutbound texts: none\n"
    alex = two_agents[0]
    _plan(app, alex, "a", "executed", timedelta(minutes=1))
    _plan(app, alex, "b", "executed", timedelta(minutes=1))
    _plan(app, alex, "c", "confirmed", timedelta(minutes=1))
    _text(app, alex, "sent", "one")
    _text(app, alex, "unknown", "two")
    _text(app, alex, "received", "in", direction="inbound")
    assert ops.invoke(args=["ops", "summary"]).output == (
        "plans: confirmed 1, executed 2\noutbound texts: sent 1, unknown 1\n")


def test_plans_list_is_the_documented_form_of_the_same_view(
    app: Flask, ops: FlaskCliRunner, two_agents: tuple[int, int]
) -> None:
    _plan(app, two_agents[0], "ran", "executed", timedelta(minutes=1))
    result = ops.invoke(args=["plans", "list", "--state", "executed", "--agent", "+13125550100"])
    assert result.exit_code == 0, result.output
    assert result.output == ops.invoke(
        args=["ops", "plans", "--state", "executed", "--agent", "+13125550100"]).output
    assert "ran" in result.output
