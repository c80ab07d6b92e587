"""Server-side sessions for the web app: a random id in an HttpOnly cookie, its hash in a table.

A table rather than Flask's signed cookie, because a signed cookie cannot be revoked: "sign out
everywhere" has to end sessions on phones the agent does not hold. Each sign-in issues a new id
(an id planted in the browser before sign-in is never promoted), and a session lives 30 days.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import User, WebSession

SESSION_LIFETIME = timedelta(days=30)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(session: Session, agent_id: int, now: datetime,
                  replacing: str | None = None) -> str:
    """A new session id for `agent_id` (the cookie's value); the browser's previous session,
    if any, ends. Expired sessions of the agent are swept here too. The caller commits."""
    if replacing:
        session.execute(delete(WebSession).where(WebSession.id_hash == _hash(replacing)))
    session.execute(delete(WebSession).where(WebSession.agent_id == agent_id,
                                             WebSession.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    session.add(WebSession(agent_id=agent_id, id_hash=_hash(session_id), created_at=now,
                           expires_at=now + SESSION_LIFETIME))
    session.flush()
    return session_id


def session_agent(session: Session, session_id: str, now: datetime) -> User | None:
    """The agent signed in with `session_id`, or None (unknown, ended or expired)."""
    if not session_id or len(session_id) > 100:
        return None
    return session.scalar(
        select(User).join(WebSession, WebSession.agent_id == User.id)
        .where(WebSession.id_hash == _hash(session_id), WebSession.expires_at > now)
    )


def end_session(session: Session, session_id: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == _hash(session_id)))


def end_all_sessions(session: Session, agent_id: int) -> int:
    """Sign the agent out on every browser; how many sessions ended."""
    return session.execute(delete(WebSession).where(WebSession.agent_id == agent_id)).rowcount
