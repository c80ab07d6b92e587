"""`flask --app wsgi ops unknown-sends|plans|summary`: what an operator must look at by hand.

The workers never re-send a text whose outcome is unknown (Twilio may have accepted it; a second
copy is worse than a missing one) and give up on a confirmed plan after MAX_PLAN_ATTEMPTS. Both
are safe choices only if a person can see them, so these commands list exactly those rows.
`--check` makes a command exit 1 when it listed anything, for a cron job or a monitor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from db.models import ExecutedPlan, Message, User
from webapp.cli.agent_option import agent_from_option
from webapp.database import get_db

ops_cli = AppGroup("ops", help="Operator views: texts with an unknown outcome, plans not done.")

PLAN_STATES = ("confirmed", "failed", "executed")
PREVIEW = 60


def _preview(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def _agent_id(session, phone: str | None) -> int | None:
    """The agent's id for `--agent`, or None for all; an unknown phone is an error, not an
    empty list (an empty list would read as "all is well")."""
    if phone is None:
        return None
    return agent_from_option(session, phone).id


def _finish(count: int, check: bool) -> None:
    if check and count:
        raise SystemExit(1)


@ops_cli.command("unknown-sends")
@click.option("--agent", "agent_phone", help="Only this agent's texts (any phone format).")
@click.option("--since-hours", type=float, default=None,
              help="Only texts created in the last N hours (default: all).")
@click.option("--check", is_flag=True, help="Exit 1 when any are listed.")
def unknown_sends(agent_phone: str | None, since_hours: float | None, check: bool) -> None:
    """Outbound texts whose outcome is unknown: they may or may not have reached the phone and
    are never re-sent automatically. Check Twilio's console by time and number."""
    with get_db().session() as session:
        query = (
            select(Message, User.phone)
            .outerjoin(User, User.id == Message.agent_id)
            .where(Message.direction == "outbound", Message.status == "unknown")
            .order_by(Message.created_at, Message.id)
        )
        agent_id = _agent_id(session, agent_phone)
        if agent_id is not None:
            query = query.where(Message.agent_id == agent_id)
        if since_hours is not None:
            query = query.where(
                Message.created_at >= datetime.now(UTC) - timedelta(hours=since_hours)
            )
        rows = session.execute(query).all()
    if not rows:
        click.echo("No texts with an unknown outcome.")
        return
    click.echo("id\tcreated\tto\tplan\treason\tbody")
    for message, _agent_phone in rows:
        click.echo(
            f"{message.id}\t{_when(message.created_at)}\t{message.phone}\t"
            f"{message.plan_id or '-'}\t{message.error_code or '-'}\t{_preview(message.body)}"
        )
    click.echo(f"{len(rows)} text(s) with an unknown outcome.")
    _finish(len(rows), check)


@ops_cli.command("plans")
@click.option("--state", type=click.Choice(PLAN_STATES), default="confirmed", show_default=True,
              help="confirmed: promised but not done yet; failed: given up, agent told.")
@click.option("--agent", "agent_phone", help="Only this agent's plans (any phone format).")
@click.option("--older-than", "older_than", type=float, default=0.0,
              help="Only plans confirmed more than N seconds ago (e.g. the recovery grace).")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--check", is_flag=True, help="Exit 1 when any are listed.")
def plans(state: str, agent_phone: str | None, older_than: float, limit: int,
          check: bool) -> None:
    """Confirmed plans by state, oldest first. `--state confirmed --older-than 120` lists
    promises the workers and the recovery sweep have not kept yet."""
    with get_db().session() as session:
        query = (
            select(ExecutedPlan, User.phone)
            .join(User, User.id == ExecutedPlan.agent_id)
            .where(ExecutedPlan.state == state)
            .order_by(ExecutedPlan.confirmed_at, ExecutedPlan.id)
            .limit(limit)
        )
        agent_id = _agent_id(session, agent_phone)
        if agent_id is not None:
            query = query.where(ExecutedPlan.agent_id == agent_id)
        if older_than:
            query = query.where(
                ExecutedPlan.confirmed_at < datetime.now(UTC) - timedelta(seconds=older_than)
            )
        rows = session.execute(query).all()
    if not rows:
        click.echo(f"No {state} plans.")
        return
    click.echo("plan\tagent\tconfirmed\tdone\tattempts\tsummary / error")
    for plan, phone in rows:
        detail = plan.error if plan.state == "failed" else (plan.plan or {}).get("summary")
        click.echo(
            f"{plan.plan_id}\t{phone}\t{_when(plan.confirmed_at)}\t{_when(plan.executed_at)}\t"
            f"{plan.attempts}\t{_preview(detail)}"
        )
    click.echo(f"{len(rows)} {state} plan(s)" + (" (limit reached)" if len(rows) == limit else "")
               + ".")
    _finish(len(rows), check)


@ops_cli.command("summary")
def summary() -> None:
    """Counts of plans and outbound texts by state: a quick look after an incident."""
    with get_db().session() as session:
        plan_counts = dict(
            session.execute(
                select(ExecutedPlan.state, func.count()).group_by(ExecutedPlan.state)
            ).all()
        )
        text_counts = dict(
            session.execute(
                select(Message.status, func.count())
                .where(Message.direction == "outbound")
                .group_by(Message.status)
            ).all()
        )
    click.echo("plans: " + (", ".join(f"{k} {v}" for k, v in sorted(plan_counts.items()))
                            or "none"))
    click.echo("outbound texts: " + (", ".join(f"{k} {v}" for k, v in sorted(text_counts.items()))
                                     or "none"))


plans_cli = AppGroup("plans", help="Confirmed plans and where they are.")
# `flask --app wsgi plans list` is the documented form; it is the same view as `ops plans`.
plans_cli.add_command(plans, "list")
