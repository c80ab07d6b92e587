"""`flask --app wsgi demo seed`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.crm.demo import seed_demo
from webapp.database import get_db

demo_cli = AppGroup("demo", help="Demo data for trying the assistant locally.")


@demo_cli.command("seed")
def seed() -> None:
    """Add the demo agent and a dozen leads (idempotent)."""
    with get_db().session() as session:
        agent = seed_demo(session)
        session.commit()
        click.echo(f"Demo agent {agent.name} {agent.phone} ready with {len(agent.leads)} leads")
