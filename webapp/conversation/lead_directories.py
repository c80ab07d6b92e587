"""The agent's leads as a `LeadDirectory`, rebuilt only when the leads changed.

Building the name indexes for 5,000 leads costs far more than one parse, so each process keeps
the last directory per agent and checks a cheap fingerprint (count, newest update, newest id).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from db.models import Lead
from db.session import Database
from webapp.understanding.lead_names import LeadDirectory
from webapp.understanding.plan import LeadRef

# The cache is bounded by what it holds, leads, not by agents: many agents with small books
# (a brokerage of 300 agents texting in turn) must all stay cached, or each text rebuilds its
# agent's directory. 300,000 leads is about 0.5 GB per web worker at worst.
MAX_CACHED_LEADS = 300_000
MAX_AGENTS = 10_000  # agents without leads cost a fingerprint each
# Directories are frozen out of full collections in batches of at least this many leads (see
# `_keep_out_of_full_collections`): one collection per small book would itself be the pause.
FREEZE_BATCH_LEADS = 2_000
# How long a cached directory is trusted without looking at the database again. A lead added a
# second ago may be missed by a message sent within that second; plans re-read every lead when
# they run, so nothing is ever written from a stale directory.
RECHECK_SECONDS = 1.0
_cache: OrderedDict[int, tuple[tuple, LeadDirectory, float]] = OrderedDict()
_builders: dict[int, threading.Lock] = {}
_cached_leads = 0  # leads in the directories of `_cache`
_unfrozen_leads = 0  # leads in directories built since the last freeze
# Set by long-running web workers (gunicorn.conf.py): see `_keep_out_of_full_collections`.
freeze_after_build = False
_lock = threading.Lock()


# Built once: what tells whether an agent's leads changed, and the rows a directory is built of.
_AGENT = bindparam("agent_id")
_FINGERPRINT = select(
    func.count(Lead.id).label("leads"),
    func.max(Lead.updated_at).label("updated"),
    func.max(Lead.id).label("newest"),
).where(Lead.agent_id == _AGENT)
_ROWS = select(Lead.id, Lead.name, Lead.status, Lead.phone).where(Lead.agent_id == _AGENT)


def directory_for(session: Session, agent_id: int, recheck: bool = False) -> LeadDirectory:
    """The directory of `agent_id`'s own leads (and only theirs), read through `session`;
    `recheck`: look at the database now, even within RECHECK_SECONDS (a lead was just added
    and is needed)."""
    params = {"agent_id": agent_id}
    return _cached_directory(agent_id,
                             lambda: tuple(session.execute(_FINGERPRINT, params).one()),
                             lambda: session.execute(_ROWS, params), recheck)


def lead_directory(db: Database, agent_id: int, recheck: bool = False) -> LeadDirectory:
    """`directory_for`, for the webhook: on PostgreSQL the check for changed leads (made at
    most once per RECHECK_SECONDS per agent, so on most requests when many agents text) is one
    autocommit round trip on the driver (`Database.fetch_row`) instead of a session's BEGIN,
    SELECT and ROLLBACK; a session is opened only to build."""
    params = {"agent_id": agent_id}

    def fingerprint() -> tuple:
        if db.is_postgresql:
            row = db.fetch_row(_FINGERPRINT, params) or {}
            return row.get("leads"), row.get("updated"), row.get("newest")
        with db.session() as session:
            return tuple(session.execute(_FINGERPRINT, params).one())

    def rows() -> list[Any]:
        with db.session() as session:
            return list(session.execute(_ROWS, params))

    return _cached_directory(agent_id, fingerprint, rows, recheck)


def _cached_directory(agent_id: int, read_fingerprint: Callable[[], tuple],
                      read_rows: Callable[[], Iterable[Any]], recheck: bool = False
                      ) -> LeadDirectory:
    now = time.monotonic()
    with _lock:
        cached = _cache.get(agent_id)
        if cached and now - cached[2] < RECHECK_SECONDS and not recheck:
            return cached[1]
    fingerprint = read_fingerprint()
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
        directory = LeadDirectory(
            LeadRef(id=r.id, name=r.name, status=r.status, phone=r.phone) for r in read_rows()
        )
        freeze = _remember(agent_id, fingerprint, directory, now)
        if freeze:
            _keep_out_of_full_collections()
    return directory


def _remember(agent_id: int, fingerprint: tuple, directory: LeadDirectory, now: float) -> bool:
    """Cache `directory`, evicting the least recently used ones beyond the bounds; True when
    enough leads were built since the last freeze to freeze them now."""
    global _cached_leads, _unfrozen_leads
    with _lock:
        replaced = _cache.pop(agent_id, None)
        if replaced is not None:
            _cached_leads -= len(replaced[1])
        _cache[agent_id] = (fingerprint, directory, now)
        _cached_leads += len(directory)
        while len(_cache) > 1 and (_cached_leads > MAX_CACHED_LEADS or len(_cache) > MAX_AGENTS):
            evicted, (_, old, _) = _cache.popitem(last=False)
            _cached_leads -= len(old)
            _builders.pop(evicted, None)
        if not freeze_after_build:
            return False
        _unfrozen_leads += len(directory)
        if _unfrozen_leads < FREEZE_BATCH_LEADS:
            return False
        _unfrozen_leads = 0
        return True


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

    Done once per `FREEZE_BATCH_LEADS` leads built, not per build: the collection visits every
    object created since the last freeze (everything, in a worker not forked from a preloaded
    master), so a collection per small directory, 300 agents' worth after a worker starts,
    was itself a pause. Small books wait in the generations until enough has been built.
    """
    gc.collect()
    gc.freeze()


def forget_directories() -> None:
    """Drop every cached directory (tests that rebuild the database between cases use this)."""
    global _cached_leads, _unfrozen_leads
    with _lock:
        _cache.clear()
        _builders.clear()
        _cached_leads = _unfrozen_leads = 0
