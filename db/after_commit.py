"""Hand rows to the queue once their transaction commits, and forget them if it rolls back.

Commit before enqueue: a webhook delivery or a new-lead alert written in a change's transaction
must not reach a worker before that transaction is visible, nor at all if it rolls back. The
writer collects what it wrote in the session under a key of its own; on commit `then` gets all
of it at once (one hand-off per transaction, however many rows), on rollback it is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_LISTENING = "fl_after_commit_keys"  # session.info: the keys whose listeners are registered


def hand_off_after_commit(session: Session, key: str, items: list[Any],
                          then: Callable[[list[Any]], None],
                          forget: tuple[str, ...] = ()) -> None:
    """Keep `items` under `key` until `session` commits, then call `then(all kept items)`.
    `forget`: other `session.info` keys (per-transaction caches) dropped at commit or rollback."""
    session.info.setdefault(key, []).extend(items)
    listening = session.info.setdefault(_LISTENING, set())
    if key in listening:
        return
    listening.add(key)

    def committed(session: Session) -> None:
        for other in forget:
            session.info.pop(other, None)
        kept = session.info.pop(key, None)
        if kept:
            then(kept)

    def rolled_back(session: Session, previous_transaction: Any) -> None:
        for other in forget:
            session.info.pop(other, None)
        session.info.pop(key, None)

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_soft_rollback", rolled_back)
