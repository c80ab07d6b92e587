"""`flask --app wsgi api-keys create|list|revoke`: keys of the integration API."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from db.models import ApiKey, User
from webapp.cli.agent_option import agent_from_option
from webapp.database import get_db
from webapp.integrations.api_keys import create_key, revoke_key

api_keys_cli = AppGroup("api-keys", help="Keys of the integration API (/api/v1).")


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@api_keys_cli.command("create")
@click.option("--agent", "agent_phone", required=True, help="The agent the key acts for.")
@click.option("--name", required=True, help="What the key is for, e.g. 'Follow Up Boss sync'.")
def create(agent_phone: str, name: str) -> None:
    """Create a key; it is printed once, as the last line, and only its hash is kept."""
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        try:
            key, raw = create_key(session, agent.id, name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"Created API key {key.id} ({key.name}) for {agent.name}. "
                   "Store it now: it is not shown again.")
    click.echo(raw)


@api_keys_cli.command("list")
@click.option("--agent", "agent_phone", help="Only this agent's keys.")
def list_keys(agent_phone: str | None) -> None:
    """Keys by id: their prefix, agent, name, and when made or revoked."""
    with get_db().session() as session:
        query = select(ApiKey, User.phone).join(User, User.id == ApiKey.agent_id)
        if agent_phone:
            query = query.where(ApiKey.agent_id == agent_from_option(session, agent_phone).id)
        found = session.execute(query.order_by(ApiKey.id)).all()
    if not found:
        click.echo("No API keys.")
        return
    click.echo("id\tprefix\tagent\tname\tcreated\trevoked")
    for key, phone in found:
        click.echo(f"{key.id}\t{key.prefix}…\t{phone}\t{key.name}\t{_when(key.created_at)}\t"
                   f"{_when(key.revoked_at)}")


@api_keys_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int) -> None:
    """Revoke a key by id: requests with it get 401 from now on."""
    with get_db().session() as session:
        key = revoke_key(session, key_id)
        if key is None:
            raise click.ClickException(f"no API key {key_id}")
        session.commit()
    click.echo(f"Revoked API key {key_id}.")
