"""Who is calling: `Authorization: Bearer <key>` names an API key, and the key one agent."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from sqlalchemy import select

from db.models import ApiKey, User
from db.session import Database
from webapp.api.errors import ApiError
from webapp.integrations.api_keys import KEY_PREFIX, hash_key


@dataclass(frozen=True)
class Agent:
    """What a request needs of the key's agent."""

    id: int
    name: str
    phone: str
    timezone: str


@dataclass(frozen=True)
class Caller:
    key_id: int
    agent: Agent


def authenticate(db: Database) -> Caller:
    """The caller of this request, or a 401 ApiError (no key, an unknown or a revoked one)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    raw = raw.strip()
    if scheme.lower() != "bearer" or not raw:
        raise ApiError(401, "send your API key as 'Authorization: Bearer <key>'",
                       "Authorization")
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        raise ApiError(401, "that API key is not valid", "Authorization")
    with db.one_statement() as connection:
        row = connection.execute(
            select(ApiKey.id, ApiKey.revoked_at, User.id.label("agent_id"), User.name,
                   User.phone, User.timezone)
            .join(User, User.id == ApiKey.agent_id)
            .where(ApiKey.key_hash == hash_key(raw))
        ).first()
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "that API key is not valid", "Authorization")
    return Caller(row.id, Agent(row.agent_id, row.name, row.phone, row.timezone))
