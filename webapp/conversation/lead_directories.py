"""The agent's leads as a `LeadDirectory`, rebuilt only when the leads changed.

Building the name indexes for 5,000 leads costs far more than one parse, so each process keeps
the last directory per agent and checks a cheap fingerprint (count, newest update, newest id).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Lead
from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.plan import LeadRef

_MAX_AGENTS = 256
# How long a cached directory is trusted without looking at the database again. A lead added a
# second ago may be missed by a message sent within that second; plans re-read every lead when
# they run, so nothing is ever written from a stale directory.
RECHECK_SECONDS = 1.0
_cache: OrderedDict[int, tuple[tuple, LeadDirectory, float]] = OrderedDict()
_builders: dict[int, threading.Lock] = {}
# Set by long-running web workers (gunicorn.conf.py): see `_keep_out_of_full_collections`.
freeze_after_build = False
_lock = threading.Lock()


def directory_for(session: Session, agent_id: int, recheck: bool = False) -> LeadDirectory:
    """The directory of `agent_id`'s own leads (and only theirs); `recheck`: look at the
    database now, even within RECHECK_SECONDS (a lead was just added and is needed)."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(agent_id)
        if cached and now - cached[2] < RECHECK_SECONDS and not recheck:
            return cached[1]
    fingerprint = tuple(
        session.execute(
            select(func.count(Lead.id), func.max(Lead.updated_at), func.max(Lead.id)).where(
                Lead.agent_id == agent_id
            )
        ).one()
    )
    with _lock:
        cached = _cache.get(agent_id)
        if cached and cached[0] == fingerprint:
            _cache[agent_id] = (fingerprint, cached[1], now)
            _cache.move_to_end(agent_id)
            return cached[1]
    # One build per agent at a time: a build takes ~0.1 s of CPU for 5,000 leads, and the
    # threads of a worker that all see the same change (or a cold start) would otherwise each
    # build the same directory, holding the GIL for all the others' requests.
    with _lock:
        builder = _builders.setdefault(agent_id, threading.Lock())
    with builder:
        with _lock:
            cached = _cache.get(agent_id)
            if cached and cached[0] == fingerprint:  # another thread just built it
                return cached[1]
        rows = session.execute(
            select(Lead.id, Lead.name, Lead.status, Lead.phone).where(Lead.agent_id == agent_id)
        )
        directory = LeadDirectory(
            LeadRef(id=r.id, name=r.name, status=r.status, phone=r.phone) for r in rows
        )
        with _lock:
            _cache[agent_id] = (fingerprint, directory, now)
            _cache.move_to_end(agent_id)
            while len(_cache) > _MAX_AGENTS:
                evicted, _ = _cache.popitem(last=False)
                _builders.pop(evicted, None)
        if freeze_after_build:
            _keep_out_of_full_collections()
    return directory


def _keep_out_of_full_collections() -> None:
    """Move every object alive now, the new directory's ~100,000 among them, out of the
    cyclic garbage collector's sight (`gc.freeze`).

    Why: a full (generation 2) collection visits every tracked object, so with a 5,000-lead
    directory in memory it paused the whole worker, every thread, for ~90 ms about once per
    thousand webhooks (measured), the largest single cause of the SMS webhook's tail latency.
    Frozen objects are still freed by reference counting: a replaced directory (it holds no
    reference cycles) is freed as before. What is lost is only cyclic garbage that was alive
    at this moment, e.g. another thread's request in flight; the collection just before
    bounds that to those requests, and gunicorn's max_requests recycles the worker anyway.
    """
    gc.collect()
    gc.freeze()


def forget_directories() -> None:
    """Drop every cached directory (tests that rebuild the database between cases use this)."""
    with _lock:
        _cache.clear()
        _builders.clear()
