"""`flask --app wsgi webhooks add|list|remove|failed|resend`: webhook endpoints and the events
that could not be delivered."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from db.models import User, WebhookDelivery, WebhookEndpoint
from webapp.cli.agent_option import agent_from_option
from webapp.database import get_db
from webapp.integrations.delivery import DeliveryPolicy, resend
from webapp.integrations.endpoints import EndpointError, register_endpoint
from workers.tasks import enqueue_webhook_deliveries

webhooks_cli = AppGroup("webhooks", help="Webhook endpoints and failed deliveries.")


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@webhooks_cli.command("add")
@click.option("--agent", "agent_phone", required=True, help="Whose events to send.")
@click.option("--url", required=True, help="An http(s) URL that accepts POSTs.")
@click.option("--events", multiple=True,
              help="Event types (repeat, or comma-separated); default: every event.")
def add(agent_phone: str, url: str, events: tuple[str, ...]) -> None:
    """Register an endpoint; its signing secret (whsec_...) is printed as the last line."""
    chosen = [event for group in events for event in group.split(",")]
    allow_private = DeliveryPolicy.from_config(current_app.config).allow_private
    with get_db().session() as session:
        agent = agent_from_option(session, agent_phone)
        try:
            endpoint = register_endpoint(session, agent.id, url, chosen,
                                         allow_private=allow_private)
        except EndpointError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"Added webhook {endpoint.id} for {agent.name}: {endpoint.url} "
                   f"({', '.join(endpoint.events) or 'every event'}). Signing secret:")
        click.echo(endpoint.secret)


@webhooks_cli.command("list")
@click.option("--agent", "agent_phone", help="Only this agent's endpoints.")
def list_endpoints(agent_phone: str | None) -> None:
    """Endpoints by id, with their state (a 410 Gone disables one)."""
    with get_db().session() as session:
        query = select(WebhookEndpoint, User.phone).join(User,
                                                          User.id == WebhookEndpoint.agent_id)
        if agent_phone:
            query = query.where(
                WebhookEndpoint.agent_id == agent_from_option(session, agent_phone).id)
        found = session.execute(query.order_by(WebhookEndpoint.id)).all()
    if not found:
        click.echo("No webhook endpoints.")
        return
    click.echo("id\tagent\tstate\turl\tevents")
    for endpoint, phone in found:
        state = endpoint.state + (f" ({endpoint.disabled_reason})"
                                  if endpoint.disabled_reason else "")
        click.echo(f"{endpoint.id}\t{phone}\t{state}\t{endpoint.url}\t"
                   f"{','.join(endpoint.events) or '*'}")


@webhooks_cli.command("remove")
@click.argument("endpoint_id", type=int)
def remove(endpoint_id: int) -> None:
    """Remove an endpoint and what was still waiting to be delivered to it."""
    with get_db().session() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise click.ClickException(f"no webhook endpoint {endpoint_id}")
        session.delete(endpoint)
        session.commit()
    click.echo(f"Removed webhook {endpoint_id}.")


@webhooks_cli.command("failed")
@click.option("--agent", "agent_phone", help="Only this agent's.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def failed(agent_phone: str | None, limit: int) -> None:
    """Events given up on (retries ran out, 410 Gone, a blocked address), oldest first."""
    with get_db().session() as session:
        query = (select(WebhookDelivery, WebhookEndpoint.url)
                 .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                 .where(WebhookDelivery.state == "failed"))
        if agent_phone:
            query = query.where(
                WebhookDelivery.agent_id == agent_from_option(session, agent_phone).id)
        found = session.execute(query.order_by(WebhookDelivery.id).limit(limit)).all()
    if not found:
        click.echo("No failed webhook deliveries.")
        return
    click.echo("id\twebhook-id\tevent\tcreated\tattempts\turl\tlast error")
    for delivery, url in found:
        click.echo(f"{delivery.id}\t{delivery.message_id}\t{delivery.event_type}\t"
                   f"{_when(delivery.created_at)}\t{delivery.attempts}\t{url}\t"
                   f"{delivery.last_error or '-'}")
    click.echo(f"{len(found)} failed deliver{'y' if len(found) == 1 else 'ies'}. "
               "Re-send with: flask --app wsgi webhooks resend ID... (or --all)")


@webhooks_cli.command("resend")
@click.argument("delivery_ids", type=int, nargs=-1)
@click.option("--all", "resend_all", is_flag=True, help="Every failed delivery.")
@click.option("--agent", "agent_phone", help="With --all: only this agent's.")
def resend_command(delivery_ids: tuple[int, ...], resend_all: bool,
                   agent_phone: str | None) -> None:
    """Send failed deliveries again, with the same webhook-id and a fresh day of retries."""
    if not delivery_ids and not resend_all:
        raise click.ClickException("name the deliveries to re-send, or --all")
    with get_db().session() as session:
        agent_id = agent_from_option(session, agent_phone).id if agent_phone else None
    ids = resend(get_db(), list(delivery_ids) if delivery_ids else None, agent_id)
    enqueue_webhook_deliveries(ids)
    click.echo(f"Queued {len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} again.")
