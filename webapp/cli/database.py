"""`flask --app wsgi db upgrade|downgrade|current|revision` — Alembic migrations."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from db import migrate
from webapp.database import get_db

db_cli = AppGroup("db", help="Database migrations (Alembic).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Create or upgrade the schema (default: to the newest migration)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database at revision {migrate.current_revision(get_db().engine)}")


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade(revision: str) -> None:
    """Step the schema back to REVISION ('-1' for one step, 'base' for empty)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("current")
def current() -> None:
    """Print the schema's revision and whether it is the newest."""
    url = current_app.config["DATABASE_URL"]
    have, head = migrate.current_revision(get_db().engine), migrate.head_revision(url)
    click.echo(f"current: {have}  head: {head}" + ("" if have == head else "  (run db upgrade)"))


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Autogenerate a new migration from the models (for maintainers)."""
    migrate.revision(current_app.config["DATABASE_URL"], message)
