"""One-time sign-in links: issued to one agent, stored only as a hash, used at most once.

Why each rule:

* **Only a SHA-256 of the secret is stored.** The secret is 32 random bytes, so a fast hash is
  enough (nothing to brute-force); a copy of the table then signs nobody in.
* **Opening a link consumes nothing.** Phones and chat apps fetch links to draw previews and
  mail scanners open them; so `peek` only reads, and `consume` (the page's button, a POST) is a
  guarded UPDATE: of two requests racing on one link, exactly one gets the agent.
* **15 minutes, and a new link retires the older unused ones**, so only the latest text works.
* **Requests are rate limited per agent** (Redis, a fixed window): a flood of "login" texts
  cannot fill the table or the agent's phone. Support's CLI is not limited.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import LoginLink, User
from db.session import Database

LINK_LIFETIME = timedelta(minutes=15)
KEEP_FOR = timedelta(days=1)  # used, retired and expired rows are deleted after this
LINKS_PER_WINDOW = 5
WINDOW_SECONDS = 15 * 60
RATE_KEY = "fl:web:login-links:{agent_id}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login/{token}"


def issue_link(session: Session, agent_id: int, now: datetime) -> str:
    """A new link's secret for `agent_id`; the agent's older unused links stop working.
    The caller commits."""
    session.execute(
        update(LoginLink)
        .where(LoginLink.agent_id == agent_id, LoginLink.used_at.is_(None),
               LoginLink.retired_at.is_(None))
        .values(retired_at=now)
    )
    session.execute(delete(LoginLink).where(LoginLink.agent_id == agent_id,
                                            LoginLink.created_at < now - KEEP_FOR))
    token = secrets.token_urlsafe(32)
    session.add(LoginLink(agent_id=agent_id, token_hash=token_hash(token), created_at=now,
                          expires_at=now + LINK_LIFETIME))
    session.flush()
    return token


@dataclass(frozen=True)
class LinkState:
    """What a link is now: `agent` (whose it is) is None only for a link that never existed."""

    agent: User | None
    usable: bool


def peek_link(session: Session, token: str, now: datetime) -> LinkState:
    """Whose link this is and whether it still works. Changes nothing."""
    row = session.execute(
        select(LoginLink, User).join(User, User.id == LoginLink.agent_id)
        .where(LoginLink.token_hash == token_hash(token))
    ).one_or_none()
    if row is None:
        return LinkState(None, False)
    link, agent = row
    usable = link.used_at is None and link.retired_at is None and link.expires_at > now
    return LinkState(agent, usable)


def consume_link(session: Session, token: str, now: datetime) -> int | None:
    """Use the link once: the agent's id, or None when it is unknown, used, retired or expired.
    One guarded UPDATE, so two racing requests cannot both succeed. The caller commits."""
    return session.execute(
        update(LoginLink)
        .where(LoginLink.token_hash == token_hash(token), LoginLink.used_at.is_(None),
               LoginLink.retired_at.is_(None), LoginLink.expires_at > now)
        .values(used_at=now)
        .returning(LoginLink.agent_id)
    ).scalar_one_or_none()


class LinkRateLimit:
    """At most LINKS_PER_WINDOW link requests per agent in a fixed window (Redis INCR).

    Redis errors propagate: without the counter no link is made (the conversation then answers
    "try again"), rather than an unlimited one."""

    def __init__(self, redis: Redis, limit: int = LINKS_PER_WINDOW,
                 window_seconds: int = WINDOW_SECONDS) -> None:
        self.redis = redis
        self.limit = limit
        self.window_seconds = window_seconds

    def allow(self, agent_id: int) -> bool:
        key = RATE_KEY.format(agent_id=agent_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(key, 0, ex=self.window_seconds, nx=True)  # the window starts at the first
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count) <= self.limit


def base_url(config: dict) -> str:
    """Where links point: PUBLIC_BASE_URL, else the local development server."""
    return config.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '5000')}"


def link_maker(db: Database, redis: Redis, base: str) -> Callable[[User, datetime], str | None]:
    """What the conversation calls for "login": a fresh link's URL, or None when the agent
    asked too often. Committed before it is returned (the reply must never carry a link the
    database does not know)."""
    limit = LinkRateLimit(redis)

    def make(agent: User, now: datetime) -> str | None:
        if not limit.allow(agent.id):
            return None
        with db.session() as session:
            token = issue_link(session, agent.id, now)
            session.commit()
        return login_url(base, token)

    return make
