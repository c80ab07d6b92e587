"""Integration API keys: each acts for one agent. Only a SHA-256 of the key is stored; the key
itself is printed once when created. Keys are 32 random bytes, so a plain hash is as good as a
slow one and lets every request find its key with one indexed lookup."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ApiKey

KEY_PREFIX = "fl_"


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_key(session: Session, agent_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key for the agent: the row (flushed; the caller commits) and the key itself."""
    name = name.strip()
    if not name or len(name) > 120:
        raise ValueError("a key's name must be 1 to 120 characters")
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(agent_id=agent_id, name=name, prefix=raw[:11], key_hash=hash_key(raw))
    session.add(key)
    session.flush()
    return key, raw


def find_key(session: Session, raw: str) -> ApiKey | None:
    """The live key `raw` is, or None (unknown or revoked)."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        return None
    return key


def revoke_key(session: Session, key_id: int, now: datetime | None = None) -> ApiKey | None:
    """Revoke key `key_id` (from then on it answers 401); None if there is no such key."""
    key = session.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now or datetime.now(UTC)
    return key
