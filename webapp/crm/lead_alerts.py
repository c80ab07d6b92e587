"""New-lead alerts, written: a lead that did not come from the agent's own text or call is to be
texted to its agent at once ("speed to lead", issue 19).

`add_alert` adds the `lead_alerts` row in the transaction that adds the lead, whatever adds it
(a plan run for the web or the API, a data import), so the lead and its alert commit or roll
back together; an undo that deletes the lead deletes its alert (the foreign key cascades). The
text itself is written later, by `webapp.execution.lead_alert_dispatch`, which claims the row.

Once the transaction commits, the agents with new alerts are handed to `alert_soon` (the app
wires it to the task queue), so the text goes out within moments; if that hand-off is lost, beat
dispatches every minute anyway. The leads of one import share a `batch` and become one summary
text. An import that commits lead by lead (the API's batch upsert) opens `one_batch()` around
its work: its alerts share a key and are handed off once, at the end, so the summary is not
sent before the last lead is in.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from db.after_commit import hand_off_after_commit
from db.models import LeadAlert

log = logging.getLogger(__name__)

# The channels an agent adds leads through themselves: they know already, nothing is texted.
AGENT_CHANNELS = ("sms", "voice")

_PENDING = "fl_lead_alerts"  # session.info: (agent id, batch) of alerts written, until commit

AlertSoon = Callable[[list[int], list[str]], Any]  # (agent ids, batches complete) -> ignored
_alert_soon: AlertSoon | None = None


@dataclass
class _OpenBatch:
    key: str
    agent_ids: set[int] = field(default_factory=set)


_open_batch: ContextVar[_OpenBatch | None] = ContextVar("fl_open_lead_batch", default=None)


def alert_with(callback: AlertSoon | None) -> None:
    """Set what is called, once a transaction that wrote alerts committed, with their agents'
    ids and the batches now complete (the app factory passes the task queue's; it must never
    raise)."""
    global _alert_soon
    _alert_soon = callback


def alerts_for(channel: str) -> bool:
    """Whether a lead added through `channel` is texted to its agent (all but their own)."""
    return channel not in AGENT_CHANNELS


def new_batch(origin: str) -> str:
    """A batch key for the leads of one import: `origin` ("import", "api") and a random part."""
    return f"{origin}-{uuid.uuid4().hex}"


def add_alert(session: Session, agent_id: int, lead_id: int, *, batch: str | None = None,
              now: datetime | None = None) -> LeadAlert:
    """Add the alert for a new lead in `session`'s transaction; the caller commits."""
    alert = LeadAlert(agent_id=agent_id, lead_id=lead_id, batch=batch,
                      created_at=now or datetime.now(UTC))
    session.add(alert)
    _hand_off_after_commit(session, [(agent_id, batch)])
    return alert


def add_alerts(session: Session, agent_id: int, lead_ids: Iterable[int], batch: str) -> int:
    """Add one alert per lead of an import, all in `batch`; returns how many."""
    now = datetime.now(UTC)
    rows = [LeadAlert(agent_id=agent_id, lead_id=lead_id, batch=batch, created_at=now)
            for lead_id in lead_ids]
    if rows:
        session.add_all(rows)
        _hand_off_after_commit(session, [(agent_id, batch)])
    return len(rows)


@contextmanager
def one_batch(origin: str) -> Iterator[str]:
    """Leads added inside, each in its own transaction, are one import: yields the batch key
    to give their alerts, and hands their agents off once, when the block ends (an alert
    dispatched meanwhile by beat leaves a batch alone until it has stopped growing)."""
    opened = _OpenBatch(new_batch(origin))
    token = _open_batch.set(opened)
    try:
        yield opened.key
    finally:
        _open_batch.reset(token)
        if opened.agent_ids:
            _call_alert_soon(sorted(opened.agent_ids), [opened.key])


def _hand_off_after_commit(session: Session, written: list[tuple[int, str | None]]) -> None:
    hand_off_after_commit(session, _PENDING, written, _committed)


def _committed(written: list[tuple[int, str | None]]) -> None:
    opened = _open_batch.get()
    agent_ids: set[int] = set()
    batches: set[str] = set()
    for agent_id, batch in written:
        if opened is not None and batch == opened.key:
            opened.agent_ids.add(agent_id)  # handed off when the import ends
            continue
        agent_ids.add(agent_id)
        if batch is not None:
            batches.add(batch)  # committed whole: nothing more will join it
    if agent_ids:
        _call_alert_soon(sorted(agent_ids), sorted(batches))


def _call_alert_soon(agent_ids: list[int], batches: list[str]) -> None:
    if _alert_soon is None:
        return
    try:
        _alert_soon(agent_ids, batches)
    except Exception:  # the rows are committed; beat dispatches them anyway
        log.warning("could not hand new-lead alerts to the queue", exc_info=True)
