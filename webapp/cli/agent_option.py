"""The agent a command's `--agent PHONE` names, read in the deployment's DEFAULT_COUNTRY."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy.orm import Session

from db.models import User
from webapp.crm.agents import find_agent


def agent_from_option(session: Session, phone: str) -> User:
    """The agent with `phone` (any format), or a ClickException that names the phone."""
    agent = find_agent(session, phone, current_app.config["DEFAULT_COUNTRY"])
    if agent is None:
        raise click.ClickException(f"no agent with phone {phone}")
    return agent
