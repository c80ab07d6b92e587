"""The per-process cache of agents' lead directories (webapp/conversation/lead_directories.py)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest
from flask import Flask

from db.models import Lead
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


@pytest.fixture
def freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a gunicorn web worker (gunicorn.conf.py's post_worker_init)."""
    monkeypatch.setattr(lead_directories, "freeze_after_build", True)
    yield
    gc.unfreeze()


def test_in_a_web_worker_a_new_directory_is_kept_out_of_full_collections(
        app: Flask, agent_id: int, freezing: None, monkeypatch: pytest.MonkeyPatch) -> None:
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
