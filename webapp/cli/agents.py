"""`flask --app wsgi agents add|list|calendar-token|login-link`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from db.models import User, utcnow
from webapp.channels.calendar_feed import issue_calendar_token
from webapp.cli.agent_option import agent_from_option
from webapp.crm.agents import AgentError, add_agent
from webapp.database import get_db
from webapp.web.login_links import base_url, issue_link, login_url

agents_cli = AppGroup("agents", help="Manage agents (the people who text the assistant).")


@agents_cli.command("add")
@click.option("--name", required=True)
@click.option("--phone", required=True, help="Any format; stored as E.164.")
@click.option("--tz", "timezone", required=True, help="IANA zone, e.g. America/Chicago.")
def add(name: str, phone: str, timezone: str) -> None:
    """Add an agent."""
    with get_db().session() as session:
        try:
            agent = add_agent(session, name, phone, timezone,
                              current_app.config["DEFAULT_COUNTRY"])
        except AgentError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"Added agent {agent.name} {agent.phone} ({agent.timezone})")


@agents_cli.command("list")
def list_agents() -> None:
    """List agents."""
    with get_db().session() as session:
        for agent in session.scalars(select(User).order_by(User.id)):
            flag = "  (opted out)" if agent.opted_out else ""
            click.echo(f"{agent.phone}\t{agent.name}\t{agent.timezone}{flag}")


@agents_cli.command("calendar-token")
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
@click.option("--rotate", is_flag=True, help="Issue a new URL; the old one stops working.")
def calendar_token(agent_phone: str, rotate: bool) -> None:
    """Print the agent's private calendar feed URL (subscribe to it in any calendar app)."""
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        token = issue_calendar_token(session, agent, rotate)
        session.commit()
    base = current_app.config["PUBLIC_BASE_URL"] or "http://127.0.0.1:5000"
    click.echo(f"{base}/calendar/{token}.ics")


@agents_cli.command("login-link")
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
def login_link(agent_phone: str) -> None:
    """Print a one-time link that signs the agent in to the web app (for support and tests).

    The link is the last line printed. It works once, for 15 minutes, and retires the agent's
    older unused links; it is not rate limited (texting "login" is).
    """
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        token = issue_link(session, agent.id, utcnow())
        session.commit()
        name = agent.name
    click.echo(f"Sign-in link for {name} (works once, for 15 minutes):")
    click.echo(login_url(base_url(current_app.config), token))
