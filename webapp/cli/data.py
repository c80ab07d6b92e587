"""`flask --app wsgi data export|import`: an agent's whole book as JSON (crm/book_transfer.py)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.cli.agent_option import agent_from_option
from webapp.crm.book_transfer import export_book, import_book
from webapp.database import get_db

data_cli = AppGroup("data", help="Move an agent's book (leads, interactions, follow-ups) in "
                                 "and out as JSON.")


@data_cli.command("export")
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
def export_command(agent_phone: str) -> None:
    """Write the agent's whole book as JSON on stdout."""
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        book = export_book(session, agent)
    click.echo(json.dumps(book, indent=2, ensure_ascii=False))


@data_cli.command("import")
@click.argument("book_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--agent", "agent_phone", required=True, help="The agent's phone.")
def import_command(book_file, agent_phone: str) -> None:
    """Read a book in the export's shape: all of it, or nothing when any record is bad."""
    try:
        book = json.load(book_file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"not JSON: {exc.msg} at line {exc.lineno}, "
                                   f"column {exc.colno}; nothing was imported") from exc
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        report = import_book(session, agent, book, current_app.config["DEFAULT_COUNTRY"])
        if report.errors:
            for error in report.errors:
                click.echo(error, err=True)
            raise click.ClickException(report.summary())
        session.commit()
    click.echo(f"Imported. {report.summary()}.")
