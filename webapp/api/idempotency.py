"""`Idempotency-Key` on POST: the first answer is stored and given again to a retry of the same
request for 24 hours, and nothing is done a second time.

The key is claimed in the database (a unique row per API key and Idempotency-Key) before the
work starts, so two copies of a request racing each other cannot both run: the second is told
the first is still in progress (409). A request that ends in a server error releases its key,
so it may be retried. The same key with another body or path is a 409 as well.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from db.models import IdempotencyRecord
from db.session import Database
from webapp.api.errors import ApiError

KEEP = timedelta(hours=24)
FIELD = "Idempotency-Key"


@dataclass(frozen=True)
class Replay:
    status: int
    body: str


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """What makes two requests "the same": method, path and the JSON body's content (not its
    key order or spacing)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def begin(db: Database, api_key_id: int, key: str, fingerprint: str,
          now: datetime | None = None) -> Replay | int:
    """The stored answer to replay, or the id of the claim this request now holds."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        record = session.scalar(select(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key))
        if record is not None and record.created_at < now - KEEP:
            session.delete(record)
            session.flush()
            record = None
        if record is not None:
            if record.request_hash != fingerprint:
                raise ApiError(409, "this Idempotency-Key was used for another request", FIELD,
                               code="idempotency_conflict")
            if record.status_code is None:
                raise ApiError(409, "a request with this Idempotency-Key is still in progress",
                               FIELD, code="idempotency_in_progress")
            return Replay(record.status_code, record.response_body or "")
        record = IdempotencyRecord(api_key_id=api_key_id, key=key, request_hash=fingerprint,
                                   created_at=now)
        session.add(record)
        try:
            session.commit()
        except IntegrityError as exc:  # the same key, claimed a moment ago by a twin request
            raise ApiError(409, "a request with this Idempotency-Key is still in progress",
                           FIELD, code="idempotency_in_progress") from exc
        return record.id


def finish(db: Database, record_id: int, status: int, body: str) -> None:
    """Store the answer for replays; a server error releases the key instead."""
    with db.session() as session:
        if status >= 500:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))
        else:
            session.execute(update(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
                            .values(status_code=status, response_body=body))
        session.commit()


def prune(db: Database, now: datetime | None = None) -> int:
    """Forget answers older than 24 hours (beat)."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        removed = session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < now - KEEP)).rowcount
        session.commit()
    return removed
