"""The per-process cache of agents' lead directories (webapp/conversation/lead_directories.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest
from flask import Flask

from db.models import Lead, User
from webapp.conversation import lead_directories
from webapp.database import get_db


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count LeadDirectory constructions (each one the cost of indexing every lead)."""
    counted: list[int] = []
    real = lead_directories.LeadDirectory

    def counting(leads):
        directory = real(leads)
        counted.append(len(directory))
        return directory

    monkeypatch.setattr(lead_directories, "LeadDirectory", counting)
    return counted


def directory_in_new_session(app: Flask, agent_id: int):
    with get_db(app).session() as session:
        return lead_directories.directory_for(session, agent_id)


def test_threads_asking_for_a_cold_directory_build_it_once(app: Flask, agent_id: int,
                                                            builds: list[int]) -> None:
    start = threading.Barrier(8)
    found = []

    def ask() -> None:
        start.wait()
        found.append(directory_in_new_session(app, agent_id))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(found) == 8
    assert len(builds) == 1
    assert all(directory is found[0] for directory in found)


def test_a_lead_added_later_is_found_after_the_recheck(app: Flask, agent_id: int,
                                                        builds: list[int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    first = directory_in_new_session(app, agent_id)
    with get_db(app).session() as session:
        session.add(Lead(agent_id=agent_id, name="Priya Natarajan", status="new"))
        session.commit()
    assert directory_in_new_session(app, agent_id) is first  # trusted within RECHECK_SECONDS

    monkeypatch.setattr(lead_directories, "RECHECK_SECONDS", 0.0)
    again = directory_in_new_session(app, agent_id)

    assert again is not first
    assert again.resolve("Priya Natarajan")
    assert len(builds) == 2
    assert directory_in_new_session(app, agent_id) is again  # unchanged leads: no rebuild


def test_many_agents_with_small_books_stay_cached_in_turn(app: Flask, agent_id: int,
                                                          builds: list[int]) -> None:
    """300 agents texting in turn: each directory is built once, not once per text (a cache
    bounded at 256 agents rebuilt every one of them, every time)."""
    with get_db(app).session() as session:
        users = [User(name=f"Agent {n}", phone=f"+1312556{n:04d}", timezone="America/Chicago")
                 for n in range(1, 300)]
        session.add_all(users)
        session.flush()
        session.add_all(Lead(agent_id=user.id, name="Sam Lee", status="new") for user in users)
        session.commit()
        agent_ids = [agent_id, *(user.id for user in users)]
    for _ in range(2):
        with get_db(app).session() as session:
            for each in agent_ids:
                lead_directories.directory_for(session, each)

    assert len(builds) == 300


def test_the_cache_is_bounded_by_the_leads_it_holds(app: Flask, agent_id: int,
                                                   builds: list[int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead_directories, "MAX_CACHED_LEADS", 8)
    with get_db(app).session() as session:
        other = User(name="Other", phone="+13125569999", timezone="America/Chicago")
        session.add(other)
        session.flush()
        session.add_all(Lead(agent_id=other.id, name=f"Lead {n}", status="new") for n in range(5))
        session.commit()
        other_id = other.id
    directory_in_new_session(app, agent_id)  # 5 leads
    directory_in_new_session(app, other_id)  # 5 more: over 8, the first is evicted
    directory_in_new_session(app, other_id)
    directory_in_new_session(app, agent_id)

    assert builds == [5, 5, 5]


@pytest.fixture
def freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a gunicorn web worker (gunicorn.conf.py's post_worker_init)."""
    monkeypatch.setattr(lead_directories, "freeze_after_build", True)
    yield
    gc.unfreeze()


def test_small_directories_are_frozen_in_batches_not_one_collection_each(
        app: Flask, agent_id: int, freezing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    collections: list[int] = []
    monkeypatch.setattr(lead_directories, "_keep_out_of_full_collections",
                        lambda: collections.append(1))
    monkeypatch.setattr(lead_directories, "FREEZE_BATCH_LEADS", 12)
    with get_db(app).session() as session:
        users = [User(name=f"Agent {n}", phone=f"+1312556{n:04d}", timezone="America/Chicago")
                 for n in range(1, 4)]
        session.add_all(users)
        session.commit()
        for user in users:
            session.add_all(Lead(agent_id=user.id, name=f"Lead {n}", status="new")
                            for n in range(5))
        session.commit()
        ids = [agent_id, *(user.id for user in users)]
    for each in ids[:2]:
        directory_in_new_session(app, each)
    assert collections == []  # 10 leads built: not yet
    directory_in_new_session(app, ids[2])
    assert collections == [1]  # 15 >= 12: one collection and freeze for the three
    directory_in_new_session(app, ids[3])
    assert collections == [1]


def test_in_a_web_worker_a_new_directory_is_kept_out_of_full_collections(
        app: Flask, agent_id: int, freezing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead_directories, "FREEZE_BATCH_LEADS", 1)
    directory = directory_in_new_session(app, agent_id)

    assert gc.get_freeze_count() > 0
    assert not any(tracked is directory for tracked in gc.get_objects())

    # Replaced after a lead change, the frozen directory is still freed by reference counting.
    gone = weakref.ref(directory)
    del directory
    with get_db(app).session() as session:
        session.add(Lead(agent_id=agent_id, name="Priya Natarajan", status="new"))
        session.commit()
    monkeypatch.setattr(lead_directories, "RECHECK_SECONDS", 0.0)
    gc.disable()
    try:
        directory_in_new_session(app, agent_id)
        assert gone() is None
    finally:
        gc.enable()


def test_the_webhook_path_sees_a_lead_added_after_the_recheck(app: Flask, agent_id: int,
                                                             builds: list[int],
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """`lead_directory` (the conversation's path: on PostgreSQL the check runs straight on the
    driver, in autocommit) shares the cache and notices a change like `directory_for`."""
    db = get_db(app)
    first = lead_directories.lead_directory(db, agent_id)
    assert directory_in_new_session(app, agent_id) is first  # one cache for both paths
    with db.session() as session:
        session.add(Lead(agent_id=agent_id, name="Priya Natarajan", status="new"))
        session.commit()
    monkeypatch.setattr(lead_directories, "RECHECK_SECONDS", 0.0)

    again = lead_directories.lead_directory(db, agent_id)

    assert again is not first and again.resolve("Priya Natarajan")
    assert lead_directories.lead_directory(db, agent_id) is again  # unchanged: no rebuild
    assert directory_in_new_session(app, agent_id) is again  # both paths read the same print
    assert len(builds) == 2
