"""`flask --app wsgi leads import|list`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from db.models import Lead
from webapp.cli.agent_option import agent_from_option
from webapp.crm.lead_import import import_leads
from webapp.database import get_db

leads_cli = AppGroup("leads", help="Manage an agent's leads.")


@leads_cli.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
def import_command(csv_file, agent_phone: str) -> None:
    """Import leads from a CSV with header name,phone,email,status — all rows or none."""
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        result = import_leads(session, agent, csv_file, current_app.config["DEFAULT_COUNTRY"])
        if result.errors:
            for error in result.errors:
                click.echo(error, err=True)
            raise click.ClickException(
                f"{len(result.errors)} bad row(s); nothing was imported"
            )
        session.commit()
    click.echo(f"Imported {result.created} lead(s); {result.skipped} already present")


@leads_cli.command("list")
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
def list_leads(agent_phone: str) -> None:
    """List an agent's leads."""
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        leads = session.scalars(
            select(Lead).where(Lead.agent_id == agent.id).order_by(Lead.name)
        )
        for lead in leads:
            click.echo(f"{lead.name}\t{lead.phone or '-'}\t{lead.email or '-'}\t{lead.status}")
