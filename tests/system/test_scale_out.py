"""Scale-out: two web processes and two worker processes, started separately against
the same PostgreSQL database and the same Redis, behave as one service.

Nothing here is in-process: each web process is its own `gunicorn -c gunicorn.conf.py
--workers 1` on a port of its own, each worker its own `celery -A workers worker` (prefork,
concurrency 1), all started with subprocess in process groups of their own and killed at the
end, pass or fail. The test talks to them only over HTTP (signed Twilio webhooks, computed with
twilio's RequestValidator against the one PUBLIC_BASE_URL both web processes are configured
with), and reads the outcome from the database and from the loopback Twilio stand-in.

What it shows:

* a plan offered by web A is confirmed by a YES sent to web B (the pending plan lives in Redis,
  not in a process), runs exactly once, and exactly one result text reaches Twilio; a second
  YES, to A, finds nothing pending;
* a clarifying question asked by web B is answered ("1") through web A;
* with a queue of plans confirmed through both web processes, one worker is SIGKILLed (the whole
  process group) mid-run, and the other drains the queue; the recovery sweep, run here every
  second as beat would, re-queues what the dead worker held. Every plan runs exactly once, no
  result text reaches Twilio twice, and at most the one text the dead worker was sending is
  `unknown` (never re-sent).

Needs PostgreSQL (TEST_DATABASE_URL; skipped without it) and Redis db 3 (SCALE_REDIS_URL),
which it empties before and after.
"""

from __future__ import annotations

import http.client
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from db import migrate
from db.models import ClientInteraction, ExecutedPlan, Lead, LeadHistory, Message, User
from tests.support import service_processes
from tests.support.databases import TemporarySchema
from tests.support.service_processes import BIN, ProcessGroups, free_port
from tests.support.settings import AGENT_LEADS
from tests.support.sms import twiml_message
from tests.support.twilio_standin import TwilioStandIn
from webapp.app import create_app
from webapp.database import get_db

pytestmark = pytest.mark.integration

SCALE_REDIS_URL = os.environ.get("SCALE_REDIS_URL", "redis://localhost:6379/3")
ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "scale-out-auth-token"
ASSISTANT_NUMBER = "+13125550000"
PUBLIC_BASE_URL = "https://fieldline.scale.test"
AGENT_PHONE = "+13125550100"
GRACE_SECONDS = 3  # recovery sweep: a confirmed plan not run after this is queued again
SWEEP_MAX_ATTEMPTS = 40  # never give up during the run (giving up is tested in test_chaos)

CONFIRMED = "👍 Confirmed and saved — working on it. I'll text you when it's done."
NOTHING_PENDING = "Nothing is waiting for confirmation."
SARAH_DONE = "✅ Done! The status for Sarah Smith has been updated from 'contacted' to 'qualified'."
JOHN_DONE = "✅ Done! The status for John Doe has been updated from 'contacted' to 'negotiating'."


# --- processes ----------------------------------------------------------------------------


class Processes(ProcessGroups):
    """Two gunicorns and two celery workers, started separately."""

    def start_web(self, name: str) -> Web:
        port = free_port()
        self.start(name, [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "1",
                          "--bind", f"127.0.0.1:{port}", "wsgi:app"])
        return Web(name, port)

    def start_worker(self, name: str) -> None:
        self.start(name, [str(BIN / "celery"), "-A", "workers", "worker", "--pool", "prefork",
                          "--concurrency", "1", "-n", f"{name}@%h", "--loglevel", "INFO",
                          "--without-gossip", "--without-mingle", "--without-heartbeat"])

class Web:
    """One gunicorn, reached over real HTTP on loopback."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.count = 0

    def get(self, path: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().status
        finally:
            conn.close()

    def text(self, phone: str, body: str) -> str | None:
        """A signed inbound SMS from `phone`, as Twilio posts it; the TwiML reply's text."""
        from twilio.request_validator import RequestValidator

        self.count += 1
        params = {
            "MessageSid": f"SM{self.port:05d}{os.getpid():08x}{self.count:019x}",
            "AccountSid": ACCOUNT_SID,
            "From": phone,
            "To": ASSISTANT_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/sms",
                                                                   params)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/sms", urlencode(params), {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
            })
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        assert response.status == 200, (self.name, response.status, data[:500])
        return twiml_message(data)


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               logs: Callable[[], str] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout}s\n" + (logs() if logs else ""))


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def scale_redis() -> Iterator[Redis]:
    redis = Redis.from_url(SCALE_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        redis.ping()
    except Exception as exc:  # noqa: BLE001 (any reason Redis is not there)
        pytest.skip(f"scale-out test needs Redis at {SCALE_REDIS_URL}: {exc}")
    redis.flushdb()
    yield redis
    redis.flushdb()
    redis.close()


@pytest.fixture
def scale_database(postgres_base_url: str) -> Iterator[str]:
    with TemporarySchema(postgres_base_url, prefix="fl_scale") as schema:
        migrate.upgrade(schema.url)
        yield schema.url


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio:
        yield twilio


@pytest.fixture
def service_env(scale_database: str, standin: TwilioStandIn, scale_redis: Redis,
                tmp_path: Path) -> dict[str, str]:
    """One environment for all four processes (and this test's own app)."""
    (tmp_path / "metrics").mkdir()
    return service_processes.service_env(
        scale_database, SCALE_REDIS_URL, standin, ASSISTANT_NUMBER, tmp_path / "metrics",
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        RATE_LIMIT_PER_MINUTE="1000",
        RECOVERY_GRACE_SECONDS=str(GRACE_SECONDS),
        MAX_PLAN_ATTEMPTS=str(SWEEP_MAX_ATTEMPTS),
        LOG_LEVEL="INFO",
    )


@pytest.fixture
def local_app(service_env: dict[str, str]) -> Iterator[Flask]:
    """This process's view of the same database and broker: to seed, to read rows, and to
    run the recovery sweep as beat would."""
    app = create_app({
        "APP_ENV": "testing",
        "TESTING": True,
        "DATABASE_URL": service_env["DATABASE_URL"],
        "REDIS_URL": SCALE_REDIS_URL,
        "CELERY_BROKER_URL": None,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_PHONE_NUMBER": ASSISTANT_NUMBER,
        "TWILIO_API_BASE_URL": service_env["TWILIO_API_BASE_URL"],
        "SMS_SENDER": "twilio",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PARSER": "rules",
    })
    app.extensions["celery"].set_current()
    yield app
    get_db(app).dispose()


@pytest.fixture
def processes(service_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(service_env, tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def service(processes: Processes, local_app: Flask) -> tuple[Web, Web]:
    """Web A, web B, worker 1, worker 2: started at once, each waited for."""
    web_a = processes.start_web("web-a")
    web_b = processes.start_web("web-b")
    processes.start_worker("worker1")
    processes.start_worker("worker2")

    def web_up(web: Web) -> bool:
        assert processes.alive(web.name), processes.logs()
        try:
            return web.get("/healthz") == 200
        except OSError:
            return False

    wait_until(lambda: web_up(web_a) and web_up(web_b), 25, "web processes up", processes.logs)
    celery = local_app.extensions["celery"]

    def workers_up() -> bool:
        assert processes.alive("worker1") and processes.alive("worker2"), processes.logs()
        replies = celery.control.ping(timeout=0.5)
        names = {name.split("@")[0] for reply in replies for name in reply}
        return {"worker1", "worker2"} <= names

    wait_until(workers_up, 25, "worker processes answering ping", processes.logs)
    return web_a, web_b


# --- seed and read ------------------------------------------------------------------------


def seed_agent(app: Flask, phone: str) -> int:
    """An agent in Chicago with the usual leads (two Johns, two Does, Sarah Smith...)."""
    with get_db(app).session() as session:
        user = User(name=f"Agent {phone[-4:]}", phone=phone, timezone="America/Chicago")
        session.add(user)
        session.flush()
        for name, lead_phone, status in AGENT_LEADS:
            session.add(Lead(agent_id=user.id, name=name, phone=lead_phone, status=status))
        session.commit()
        return user.id


def count(app: Flask, model: type, **where: Any) -> int:
    with get_db(app).session() as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query) or 0


def plans(app: Flask) -> list[ExecutedPlan]:
    with get_db(app).session() as session:
        return list(session.scalars(select(ExecutedPlan).order_by(ExecutedPlan.id)))


def lead_status(app: Flask, agent_id: int, name: str) -> str:
    with get_db(app).session() as session:
        return session.scalar(select(Lead.status).where(Lead.agent_id == agent_id,
                                                        Lead.name == name))


def run_sweep(app: Flask) -> dict[str, int]:
    """One beat tick of the recovery sweep, from this process."""
    from workers.tasks import sweep_now

    with app.app_context():
        return sweep_now(timedelta(seconds=GRACE_SECONDS), SWEEP_MAX_ATTEMPTS)


# --- the test -----------------------------------------------------------------------------


def test_two_web_and_two_worker_processes_behave_as_one_service(
    service: tuple[Web, Web], processes: Processes, local_app: Flask, standin: TwilioStandIn
) -> None:
    web_a, web_b = service
    app = local_app
    logs = processes.logs
    agent_id = seed_agent(app, AGENT_PHONE)

    # 1. A plan offered by A, confirmed through B: runs once, one result text.
    offer = web_a.text(AGENT_PHONE, "Update Sarah Smith's status to qualified")
    assert offer and "Sarah Smith" in offer and "Reply YES to confirm" in offer, offer
    assert web_b.text(AGENT_PHONE, "YES") == CONFIRMED
    assert web_a.text(AGENT_PHONE, "YES") == NOTHING_PENDING  # B took it; A sees that too
    wait_until(lambda: [p.state for p in plans(app)] == ["executed"], 15, "plan executed", logs)
    wait_until(lambda: standin.messages, 10, "result text", logs)
    time.sleep(1.0)  # room for a duplicate to show itself
    [plan] = plans(app)
    assert count(app, LeadHistory, plan_id=plan.plan_id) == 1
    assert count(app, LeadHistory) == 1
    assert lead_status(app, agent_id, "Sarah Smith") == "qualified"
    assert [(m["To"], m["From"], m["Body"]) for m in standin.messages] == [
        (AGENT_PHONE, ASSISTANT_NUMBER, SARAH_DONE)
    ]
    assert count(app, Message, direction="outbound", plan_id=plan.plan_id, status="sent") == 1

    # 2. A clarifying question asked by B, answered through A, confirmed through B.
    question = web_b.text(AGENT_PHONE, "Update John to negotiating")
    assert question and "1) John Doe" in question and "2) John Smith" in question, question
    offer = web_a.text(AGENT_PHONE, "1")
    assert offer and "John Doe" in offer and "Reply YES to confirm" in offer, offer
    assert web_b.text(AGENT_PHONE, "yes") == CONFIRMED
    wait_until(lambda: [p.state for p in plans(app)] == ["executed", "executed"], 15,
               "clarified plan executed", logs)
    wait_until(lambda: len(standin.messages) >= 2, 10, "second result text", logs)
    time.sleep(0.5)
    assert lead_status(app, agent_id, "John Doe") == "negotiating"
    assert lead_status(app, agent_id, "John Smith") == "qualified"  # the other John: untouched
    assert [m["Body"] for m in standin.messages] == [SARAH_DONE, JOHN_DONE]

    # 3. A queue of plans confirmed through both web processes; worker 1 killed mid-run.
    drain_with_one_worker_killed(app, web_a, web_b, processes, standin)


def drain_with_one_worker_killed(app: Flask, web_a: Web, web_b: Web, processes: Processes,
                                 standin: TwilioStandIn, agents: int = 24) -> None:
    logs = processes.logs
    before = len(standin.messages)
    phones = [f"+1312555{3000 + n:04d}" for n in range(agents)]
    agent_ids = {phone: seed_agent(app, phone) for phone in phones}
    # Each send takes Twilio 0.2 s to answer, so the queue outlasts the confirmations and a
    # worker is killed with work still waiting (and, likely, a send of its own in flight).
    standin.hang_next(0.2, times=agents)
    for n, phone in enumerate(phones):
        first, second = (web_a, web_b) if n % 2 == 0 else (web_b, web_a)
        note = f"Called Dana Cole, scale note {n}"
        assert "Reply YES" in (first.text(phone, note) or ""), note
        assert second.text(phone, "YES") == CONFIRMED

    next_sweep = time.monotonic() + 1.0

    def sweep_on_time() -> None:
        nonlocal next_sweep
        if time.monotonic() >= next_sweep:
            run_sweep(app)
            next_sweep = time.monotonic() + 1.0

    def texted() -> int:
        return len(standin.messages) - before

    def sweeping(predicate: Callable[[], bool]) -> Callable[[], bool]:
        def check() -> bool:
            sweep_on_time()
            return predicate()
        return check

    wait_until(sweeping(lambda: texted() >= agents // 4), 20, "first quarter sent", logs)
    assert texted() < agents, "the queue drained before the kill: nothing shown"
    processes.kill_group("worker1")
    killed_at = datetime.now(UTC)
    sent_at_kill = texted()

    def drained() -> bool:
        with get_db(app).session() as session:
            confirmed = session.scalar(select(func.count()).select_from(ExecutedPlan)
                                       .where(ExecutedPlan.state == "confirmed"))
            pending_texts = session.scalar(select(func.count()).select_from(Message).where(
                Message.direction == "outbound", Message.status.in_(("queued", "sending"))))
        return confirmed == 0 and pending_texts == 0

    wait_until(sweeping(drained), 30, "queue drained by the surviving worker", logs)
    time.sleep(1.0)  # a late duplicate would reach the stand-in by now
    assert processes.alive("worker2") and not processes.alive("worker1")

    # Every plan ran exactly once, with its one effect.
    run = [p for p in plans(app) if p.agent_id in set(agent_ids.values())]
    assert len(run) == agents and {p.state for p in run} == {"executed"}, [
        (p.plan_id, p.state) for p in run]
    with get_db(app).session() as session:
        interactions = Counter(session.scalars(
            select(ClientInteraction.plan_id).where(
                ClientInteraction.plan_id.in_([p.plan_id for p in run]))))
        texts = list(session.scalars(select(Message).where(  # not the TwiML replies
            Message.direction == "outbound", Message.status != "replied",
            Message.plan_id.in_([p.plan_id for p in run]))))
    assert sorted(interactions.values()) == [1] * agents, interactions
    # Worker 1 is dead: every text sent after the kill went through worker 2.
    after_kill = sum(p.executed_at > killed_at for p in run)
    assert texted() - sent_at_kill >= agents - sent_at_kill - 1

    # One result text row per plan; none received twice; `unknown` only for what the dead
    # worker was sending (at most one: concurrency 1, prefetch 1), never re-sent.
    assert len(texts) == agents and len({t.plan_id for t in texts}) == agents
    received = Counter(m["To"] for m in standin.messages[before:])
    assert max(received.values()) == 1, received
    statuses = Counter(t.status for t in texts)
    assert set(statuses) <= {"sent", "unknown"} and statuses["unknown"] <= 1, statuses
    sids = {m.sid for m in standin.messages}
    for text in texts:
        if text.status == "sent":
            assert received[text.phone] == 1 and text.provider_sid in sids, text.plan_id
    print(f"\nscale-out: {agents} plans through web A/B; worker1 killed after "
          f"{sent_at_kill} texts; worker2 then ran {after_kill} plans and sent "
          f"{texted() - sent_at_kill} texts; text rows {dict(statuses)}")
