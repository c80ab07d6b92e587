"""Chaos benchmark: several agents in a loop of plan → YES → wait, against one gunicorn,
real Celery workers and beat, Redis and PostgreSQL, and the loopback Twilio stand-in, while pool
children are SIGKILLed just after some YES replies, the whole worker is SIGKILLed once and Redis
is restarted empty once; then the figures: plans lost, run twice, and how late.

    .venv/bin/python bench/chaos.py                          # 8 agents, 60 s, PostgreSQL
    .venv/bin/python bench/chaos.py --agents 4 --duration 30 --child-kills 6
    .venv/bin/python bench/chaos.py --sweep bench            # sweep from here, not beat
    .venv/bin/python bench/chaos.py --via db                 # the older direct mode (no web)

The default path talks to the service only as Twilio would: signed POST /sms webhooks
(RequestValidator against PUBLIC_BASE_URL) to `gunicorn -c gunicorn.conf.py --workers 2`; the
recovery sweep runs from `celery -A workers beat` every second (SWEEP_INTERVAL_SECONDS=1,
RECOVERY_GRACE_SECONDS=3), as in production. Each plan names a lead of its own, so every effect
(lead_history / client_interactions rows, result text at the stand-in) is counted per plan.

Database: a schema of its own in TEST_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped at the end. Redis: db 2
(CHAOS_BENCH_REDIS_URL), emptied at the start and the end, so it must be nobody else's; the
"Redis restart" is FLUSHDB of that db plus CLIENT KILL of the connections using it.
Exit status 1 when the target is missed (a plan lost or run twice, a text sent twice, or a
plan executed more than 2 minutes after its YES).
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import random
import re
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from db import migrate  # noqa: E402
from db.models import (  # noqa: E402
    ClientInteraction,
    ExecutedPlan,
    Lead,
    LeadHistory,
    Message,
    User,
)
from tests.support.databases import TemporarySchema  # noqa: E402
from tests.support.service_processes import (  # noqa: E402
    BIN,
    ProcessGroups,
    free_port,
    restart_redis_empty,
    service_env,
)
from tests.support.sms import twiml_message  # noqa: E402
from tests.support.twilio_standin import TwilioStandIn  # noqa: E402
from webapp.app import create_app  # noqa: E402
from webapp.database import get_db  # noqa: E402

BENCH_REDIS_URL = os.environ.get("CHAOS_BENCH_REDIS_URL", "redis://localhost:6379/2")
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ACCOUNT_SID = "AC" + "9" * 32
AUTH_TOKEN = "chaos-bench-auth-token"
ASSISTANT_NUMBER = "+13125550000"
PUBLIC_BASE_URL = "https://fieldline.chaos.test"
GRACE_SECONDS = 3
MAX_ATTEMPTS = 40  # never give up during the run: every confirmed plan must execute
TARGET_SECONDS = 120.0

FIRST = ["Avery", "Blake", "Carmen", "Dmitri", "Elena", "Farah", "Gideon", "Hana", "Imogen",
         "Jasper", "Keiko", "Lorenzo", "Marisol", "Nadia", "Oskar", "Priya", "Quentin",
         "Rosalind", "Soren", "Tamsin"]
LAST = ["Abernathy", "Bellamy", "Castellano", "Delacroix", "Ellingsworth", "Fairbanks",
        "Gallagher", "Hollister", "Ingram", "Jablonski", "Kowalczyk", "Lindqvist", "Montague",
        "Nakamura", "Okonkwo", "Pemberton", "Quintero", "Rasmussen", "Sutherland", "Thornbury"]


# --- processes ----------------------------------------------------------------------------


class Service(ProcessGroups):
    """gunicorn, celery workers and beat: each its own process group, killed at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path, workers: int, concurrency: int,
                 beat: bool) -> None:
        super().__init__(env, log_dir)
        self.workers = [f"worker{n}" for n in range(workers)]
        self.concurrency = concurrency
        self.generation = 0
        self.port = free_port()
        self.beat = beat

    def start_all(self) -> None:
        self.start("web", [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--workers", "2",
                            "--bind", f"127.0.0.1:{self.port}", "wsgi:app"])
        for name in self.workers:
            self.start_worker(name)
        if self.beat:  # INFO here, so that beat.log shows each sweep it sent
            env, self.env = self.env, {**self.env, "LOG_LEVEL": "INFO"}
            self.start("beat", [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel",
                                 "INFO", "-s", str(self.log_dir / "beat-schedule")])
            self.env = env

    def start_worker(self, name: str) -> None:
        self.generation += 1
        self.start(name, [str(BIN / "celery"), "-A", "workers", "worker", "--pool", "prefork",
                           "--concurrency", str(self.concurrency), "--loglevel", "WARNING",
                           "-n", f"{name}-{self.generation}@%h", "--without-gossip",
                           "--without-mingle", "--without-heartbeat"])

    def text(self, phone: str, body: str, sid: str) -> tuple[int, str | None]:
        """A signed inbound SMS, as Twilio posts it: (HTTP status, the TwiML reply's text)."""
        from twilio.request_validator import RequestValidator

        params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": phone,
                  "To": ASSISTANT_NUMBER, "Body": body, "NumMedia": "0"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/sms",
                                                                   params)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request("POST", "/sms", urlencode(params), {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature})
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        if response.status != 200:
            return response.status, None
        return 200, twiml_message(data)

    def web_up(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()


def wait_until(predicate, timeout: float, what: str, logs=None):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not within {timeout}s\n" + (logs() if logs else ""))


# --- agents -------------------------------------------------------------------------------


@dataclass
class Confirmed:
    agent: int
    lead: str
    lead_id: int
    kind: str  # status | call
    yes_at: datetime
    plan_id: str | None  # the executed_plans row the YES committed (None: no row found)


@dataclass
class Tally:
    confirmed: list[Confirmed] = field(default_factory=list)
    offers: int = 0
    not_offered: Counter = field(default_factory=Counter)  # first reply not an offer
    yes_other: Counter = field(default_factory=Counter)  # YES reply other than "Confirmed"
    http_errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def seed(app, agents: int, leads: int) -> list[tuple[int, str, list[tuple[int, str]]]]:  # noqa: ANN001
    names = [f"{first} {last}" for last in LAST for first in FIRST][:leads]
    out = []
    with get_db(app).session() as session:
        for n in range(agents):
            phone = f"+1312555{7000 + n:04d}"
            user = User(name=f"Agent {n}", phone=phone, timezone="America/Chicago")
            session.add(user)
            session.flush()
            rows = [Lead(agent_id=user.id, name=name, phone=f"+1773{n:02d}{i:05d}", status="new")
                    for i, name in enumerate(names)]
            session.add_all(rows)
            session.flush()
            out.append((user.id, phone, [(row.id, row.name) for row in rows]))
        session.commit()
    return out


def agent_loop(n: int, agent_id: int, phone: str, leads: list[tuple[int, str]], service: Service,
               app, tally: Tally, yes_events: queue.Queue, stop_at: float,  # noqa: ANN001
               think: tuple[float, float], rng: random.Random) -> None:
    count = 0
    last_row = 0
    for lead_id, name in leads:
        if time.monotonic() >= stop_at:
            break
        kind = "status" if count % 2 == 0 else "call"
        body = f"Mark {name} as qualified" if kind == "status" else f"Called {name}, no answer"
        count += 1
        try:
            status, offer = service.text(phone, body, f"SM{n:04x}{count:06x}{os.urandom(11).hex()}")
        except OSError as exc:
            with tally.lock:
                tally.http_errors[type(exc).__name__] += 1
            continue
        if status != 200 or not offer or "Reply YES" not in offer:
            with tally.lock:
                tally.not_offered[f"{status}: {(offer or '')[:60]}"] += 1
            continue
        with tally.lock:
            tally.offers += 1
        try:
            status, reply = service.text(phone, "YES",
                                         f"SM{n:04x}{count:06x}{os.urandom(11).hex()}")
        except OSError as exc:  # the agent does not know: not a promise, but note it
            with tally.lock:
                tally.http_errors[f"YES {type(exc).__name__}"] += 1
            continue
        yes_at = datetime.now(UTC)
        if status != 200 or not reply or "Confirmed" not in reply:
            with tally.lock:
                tally.yes_other[f"{status}: {(reply or '')[:60]}"] += 1
            continue
        yes_events.put(yes_at)
        with get_db(app).session() as session:  # the row the YES committed before replying
            row = session.execute(select(ExecutedPlan.id, ExecutedPlan.plan_id).where(
                ExecutedPlan.agent_id == agent_id, ExecutedPlan.id > last_row)
                .order_by(ExecutedPlan.id.desc()).limit(1)).first()
        plan_id = None
        if row is not None:
            last_row, plan_id = row
        with tally.lock:
            tally.confirmed.append(Confirmed(n, name, lead_id, kind, yes_at, plan_id))
        time.sleep(rng.uniform(*think))


# --- faults -------------------------------------------------------------------------------


@dataclass
class Faults:
    child_kills: int = 0
    worker_kills: int = 0
    redis_wipes: int = 0
    connections_dropped: int = 0
    log: list[str] = field(default_factory=list)
    fault_times: list[datetime] = field(default_factory=list)


def fault_loop(service: Service, redis: Redis, yes_events: queue.Queue, stop_at: float,
               started: float, duration: float, child_kills: int, faults: Faults,
               rng: random.Random) -> None:
    """Pool children SIGKILLed a few ms after a share of the YES replies; the whole worker
    SIGKILLed at a third of the run (restarted 2 s later); Redis emptied at two thirds."""
    worker_at = started + duration / 3
    wipe_at = started + duration * 2 / 3
    restart_at = None
    victim = None
    while time.monotonic() < stop_at:
        try:
            yes_events.get(timeout=0.1)
        except queue.Empty:
            after_yes = False
        else:
            after_yes = True
            if faults.child_kills < child_kills and rng.random() < 0.25:
                time.sleep(rng.uniform(0.0, 0.05))  # the task is being picked up / running
                name = rng.choice([w for w in service.workers if service.alive(w)] or ["-"])
                children = service.pool_children(name) if name != "-" else []
                if children:
                    try:
                        os.kill(rng.choice(children), signal.SIGKILL)
                        faults.child_kills += 1
                        faults.fault_times.append(datetime.now(UTC))
                    except ProcessLookupError:
                        pass
        now = time.monotonic()
        # The whole-worker kill and the Redis restart also land just after a YES (or, with no
        # YES for 5 s, anyway), while that plan's task is queued or running.
        if faults.worker_kills == 0 and (now >= worker_at + 5 or now >= worker_at and after_yes):
            victim = rng.choice(service.workers)
            service.kill_group(victim)
            faults.worker_kills += 1
            faults.fault_times.append(datetime.now(UTC))
            faults.log.append(f"{now - started:5.1f} s  SIGKILL whole {victim} (process group)")
            restart_at = now + 2.0
        if restart_at is not None and now >= restart_at:
            service.start_worker(victim)
            faults.log.append(f"{now - started:5.1f} s  {victim} restarted")
            restart_at = None
        if faults.redis_wipes == 0 and (now >= wipe_at + 5 or now >= wipe_at and after_yes):
            faults.connections_dropped += restart_redis_empty(redis)
            faults.redis_wipes += 1
            faults.fault_times.append(datetime.now(UTC))
            faults.log.append(f"{now - started:5.1f} s  Redis emptied (FLUSHDB + "
                              f"{faults.connections_dropped} connections killed)")
    if restart_at is not None:
        service.start_worker(victim)


def sweep_loop(app, stop: threading.Event, runs: list[int]) -> None:  # noqa: ANN001
    """--sweep bench: the recovery sweep from this process every second, as beat would."""
    from datetime import timedelta

    from workers.tasks import sweep_now

    while not stop.wait(1.0):
        try:
            with app.app_context():
                sweep_now(timedelta(seconds=GRACE_SECONDS), MAX_ATTEMPTS)
            runs[0] += 1
        except Exception:  # noqa: BLE001 (broker wiped: the next tick tries again)
            pass


# --- counting -----------------------------------------------------------------------------


def outstanding(app) -> tuple[int, int]:  # noqa: ANN001
    with get_db(app).session() as session:
        plans = session.scalar(select(func.count()).select_from(ExecutedPlan)
                               .where(ExecutedPlan.state == "confirmed"))
        texts = session.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "outbound", Message.status.in_(("queued", "sending"))))
    return plans or 0, texts or 0


def count_and_report(app, tally: Tally, faults: Faults, standin: TwilioStandIn,  # noqa: ANN001
                     seconds: float, drain: float, sweep_mode: str, sweeps: int) -> bool:
    confirmed = tally.confirmed
    plan_ids = [c.plan_id for c in confirmed if c.plan_id]
    with get_db(app).session() as session:
        rows = {p.plan_id: p for p in session.scalars(
            select(ExecutedPlan).where(ExecutedPlan.plan_id.in_(plan_ids)))}
        history = Counter(session.scalars(select(LeadHistory.plan_id).where(
            LeadHistory.plan_id.in_(plan_ids))))
        interactions = Counter(session.scalars(select(ClientInteraction.plan_id).where(
            ClientInteraction.plan_id.in_(plan_ids))))
        history_by_lead = Counter(session.scalars(select(LeadHistory.lead_id)))
        calls_by_lead = Counter(session.scalars(select(ClientInteraction.lead_id)))
        texts = list(session.scalars(select(Message).where(
            Message.direction == "outbound", Message.status != "replied",
            Message.plan_id.in_(plan_ids))))
        all_plans = session.scalar(select(func.count()).select_from(ExecutedPlan)) or 0
        attempts = Counter(session.scalars(select(ExecutedPlan.attempts)))
    text_status = Counter(t.status for t in texts)
    text_rows = Counter(t.plan_id for t in texts)
    phones = {c.agent: f"+1312555{7000 + c.agent:04d}" for c in confirmed}

    executed = lost = duplicates = missing = late = 0
    received: Counter = Counter()
    latencies: list[float] = []
    problems: list[str] = []
    messages = list(standin.messages)
    for c in confirmed:
        row = rows.get(c.plan_id) if c.plan_id else None
        pattern = re.compile(rf"\b{re.escape(c.lead)}\b")
        got = sum(1 for m in messages if m["To"] == phones[c.agent] and pattern.search(m["Body"]))
        received[got] += 1
        if got > 1:
            problems.append(f"{c.plan_id} ({c.lead}): result text received {got} times")
        if row is None or row.state != "executed":
            lost += 1
            problems.append(f"lost: agent {c.agent} {c.kind} {c.lead} plan {c.plan_id} "
                            f"state {row.state if row else 'no row'}")
            continue
        executed += 1
        effects = (history[c.plan_id], interactions[c.plan_id])
        by_lead = (history_by_lead[c.lead_id], calls_by_lead[c.lead_id])
        if max(effects + by_lead) > 1:
            duplicates += 1
            problems.append(f"duplicate: {c.plan_id} ({c.lead}) history/interactions "
                            f"{effects}, per lead {by_lead}")
        expected = (1, 0) if c.kind == "status" else (None, 1)
        if effects[0] < (expected[0] or 0) or effects[1] < expected[1]:
            missing += 1
            problems.append(f"missing effect: {c.plan_id} ({c.lead}) {effects}")
        seconds_to_effect = (row.executed_at - c.yes_at).total_seconds()
        latencies.append(seconds_to_effect)
        if seconds_to_effect > TARGET_SECONDS:
            late += 1
    twice = sum(n for k, n in received.items() if k > 1)
    no_text = received[0]
    latencies.sort()
    lat = latencies or [0.0]
    p95 = lat[min(len(lat) - 1, int(len(lat) * 0.95))]
    rows_out = [
        ("path", f"gunicorn --workers 2 + celery workers + sweep from {sweep_mode} "
                 f"({sweeps} sweeps sent)"),
        ("run time", f"{seconds:.0f} s (quiet after {drain:.1f} s)"),
        ("faults", f"{faults.child_kills} pool children SIGKILLed after a YES, "
                   f"{faults.worker_kills} whole worker SIGKILLed, "
                   f"{faults.redis_wipes} Redis restart empty"),
        ("offers (Reply YES)", tally.offers),
        ("not offered", f"{sum(tally.not_offered.values())} {dict(tally.not_offered)}"),
        ("YES not confirmed", f"{sum(tally.yes_other.values())} {dict(tally.yes_other)}"),
        ("http errors", dict(tally.http_errors)),
        ("plans confirmed (YES said Confirmed)", len(confirmed)),
        ("executed_plans rows (all)", all_plans),
        ("plans executed", executed),
        ("attempts per plan (runs + sweep re-queues)", dict(sorted(attempts.items()))),
        ("plans lost", lost),
        ("plans executed twice (duplicate effect)", duplicates),
        ("plans with a missing effect", missing),
        ("result text rows", f"{sum(text_rows.values())} {dict(text_status)}"),
        ("result texts at stand-in per plan", dict(sorted(received.items()))),
        ("result texts received twice", twice),
        ("unknown sends (never re-sent)", text_status.get("unknown", 0)),
        ("YES → executed", f"median {statistics.median(lat):.2f} s, p95 {p95:.2f} s, "
                           f"longest {lat[-1]:.1f} s"),
    ]
    width = max(len(name) for name, _ in rows_out)
    for name, value in rows_out:
        print(f"{name:<{width}}  {value}")
    for line in faults.log:
        print("  fault:", line)
    for problem in problems[:30]:
        print("  problem:", problem)
    ok = lost == 0 and duplicates == 0 and twice == 0 and late == 0 and missing == 0
    print(f"target (0 lost, 0 executed twice, all executed within {TARGET_SECONDS:.0f} s): "
          f"{'PASS' if ok else 'MISS'}" + (f"; {no_text} plans without a result text "
                                           f"(unknown sends {text_status.get('unknown', 0)})"
                                           if no_text else ""))
    return ok


# --- the run ------------------------------------------------------------------------------


def run_web(args: argparse.Namespace) -> int:
    redis = Redis.from_url(BENCH_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    redis.ping()
    redis.flushdb()
    base = os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG
    rng = random.Random(args.seed)
    with ExitStack() as stack:
        stack.callback(redis.close)
        stack.callback(redis.flushdb)
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fl_chaos_")))
        logs = args.log_dir or work
        logs.mkdir(parents=True, exist_ok=True)
        url = stack.enter_context(TemporarySchema(base, prefix="fl_chaosbench")).url
        migrate.upgrade(url)
        standin = stack.enter_context(TwilioStandIn(account_sid=ACCOUNT_SID,
                                                    auth_token=AUTH_TOKEN))
        (work / "metrics").mkdir()
        env = service_env(
            url, BENCH_REDIS_URL, standin, ASSISTANT_NUMBER, work / "metrics",
            PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            RATE_LIMIT_PER_MINUTE="100000",
            RECOVERY_GRACE_SECONDS=str(GRACE_SECONDS),
            SWEEP_INTERVAL_SECONDS="1",
            MAX_PLAN_ATTEMPTS=str(MAX_ATTEMPTS),
            LOG_LEVEL="WARNING",
        )
        app = create_app({
            "APP_ENV": "testing", "TESTING": True, "DATABASE_URL": url,
            "REDIS_URL": BENCH_REDIS_URL, "CELERY_BROKER_URL": None,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_PHONE_NUMBER": ASSISTANT_NUMBER, "TWILIO_API_BASE_URL": standin.base_url,
            "SMS_SENDER": "twilio", "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "PARSER": "rules",
            "RECOVERY_GRACE_SECONDS": GRACE_SECONDS, "MAX_PLAN_ATTEMPTS": MAX_ATTEMPTS,
        })
        app.extensions["celery"].set_current()
        stack.callback(get_db(app).dispose)
        service = Service(env, logs, workers=args.workers, concurrency=args.concurrency,
                          beat=args.sweep == "beat")
        stack.callback(service.stop_all)
        agents = seed(app, args.agents, args.leads)
        service.start_all()
        wait_until(service.web_up, 30, "gunicorn up", service.logs)
        celery = app.extensions["celery"]

        def workers_up() -> bool:
            replies = celery.control.ping(timeout=0.5)
            names = {name.split("-")[0] for reply in replies for name in reply}
            return set(service.workers) <= names

        wait_until(workers_up, 30, "celery workers answering ping", service.logs)
        print(f"service up: gunicorn :{service.port}, {args.workers} workers × "
              f"{args.concurrency}, sweep from {args.sweep}; logs in {logs}", flush=True)

        # Twilio answering each send after a while keeps pool children busy, so a SIGKILL
        # after a YES lands on a running plan or send more often than on an idle child.
        if args.twilio_latency > 0:
            standin.hang_next(args.twilio_latency, times=1_000_000)
        tally = Tally()
        faults = Faults()
        yes_events: queue.Queue = queue.Queue()
        started = time.monotonic()
        stop_at = started + args.duration
        stop_sweep = threading.Event()
        threads = [threading.Thread(target=agent_loop, name=f"agent{n}", daemon=True, args=(
            n, agent_id, phone, leads, service, app, tally, yes_events, stop_at,
            (args.think_min, args.think_max), random.Random(rng.random())))
            for n, (agent_id, phone, leads) in enumerate(agents)]
        fault = threading.Thread(target=fault_loop, name="faults", daemon=True, args=(
            service, redis, yes_events, stop_at, started, args.duration, args.child_kills,
            faults, random.Random(rng.random())))
        sweeper = None
        sweep_runs = [0]
        if args.sweep == "bench":
            sweeper = threading.Thread(target=sweep_loop, args=(app, stop_sweep, sweep_runs),
                                       daemon=True)
            sweeper.start()
        for thread in threads + [fault]:
            thread.start()
        for thread in threads + [fault]:
            thread.join(timeout=args.duration + 60)
        ended = time.monotonic()

        quiet_since = None
        deadline = ended + args.drain_timeout
        while time.monotonic() < deadline:
            if outstanding(app) == (0, 0):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 3.0:  # room for a late duplicate
                    break
            else:
                quiet_since = None
            time.sleep(0.25)
        drain = time.monotonic() - ended
        stop_sweep.set()
        if sweeper is not None:
            sweeper.join(timeout=5)
        if args.sweep == "beat" and not service.alive("beat"):
            print("  note: beat is not running at the end (see beat.log)")
        if args.sweep == "beat":
            sweeps = (logs / "beat.log").read_text(errors="replace").count(
                "recover-confirmed-plans")
        else:
            sweeps = sweep_runs[0]
        ok = count_and_report(app, tally, faults, standin, time.monotonic() - started, drain,
                              args.sweep, sweeps)
        if not ok:
            print(service.logs(1500))
        return 0 if ok else 1


def run_direct(args: argparse.Namespace) -> int:
    """--via db: the older mode (the harness of tests/support/chaos.py): plans committed to
    executed_plans and queued from this process, workers SIGKILLed, the broker wiped once
    (Redis db 7, CHAOS_REDIS_URL)."""
    from tests.support.chaos import ACCOUNT_SID as DIRECT_SID
    from tests.support.chaos import AUTH_TOKEN as DIRECT_TOKEN
    from tests.support.chaos import (
        CHAOS_MAX_ATTEMPTS,
        CHAOS_REDIS_URL,
        Fleet,
        app_settings,
        run_chaos,
        worker_env,
    )

    redis = Redis.from_url(CHAOS_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    redis.ping()
    redis.flushdb()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fl_chaos_")))
        if args.database == "sqlite":
            url = "sqlite:///" + str(work / "chaos.sqlite3")
        else:
            url = stack.enter_context(TemporarySchema(
                os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG, prefix="fl_chaos")).url
        migrate.upgrade(url)
        standin = stack.enter_context(TwilioStandIn(account_sid=DIRECT_SID,
                                                    auth_token=DIRECT_TOKEN))
        env = worker_env(url, standin.base_url, CHAOS_MAX_ATTEMPTS)
        app = create_app(app_settings(env))
        app.extensions["celery"].set_current()
        stack.callback(get_db(app).dispose)
        logs = args.log_dir or work
        logs.mkdir(parents=True, exist_ok=True)
        fleet = Fleet(env, logs, size=args.workers, concurrency=2)
        stack.callback(fleet.stop)
        stack.callback(redis.flushdb)
        figures = run_chaos(app, fleet, standin, redis, rounds=args.kills, burst=(2, 5),
                            round_seconds=max(0.5, args.duration / args.kills - 0.2),
                            drain_timeout=120.0, steady_rate=args.rate, seed=args.seed)
        print(figures.line())
        for problem in figures.problems:
            print("  problem:", problem)
        bad = (figures.still_confirmed or figures.duplicates or figures.missing_effects
               or figures.texts_lost or figures.texts_twice)
        return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--via", choices=("web", "db"), default="web",
                        help="web: the issue's gunicorn path (default); db: the direct mode")
    parser.add_argument("--duration", "--seconds", type=float, default=60.0, dest="duration")
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--leads", type=int, default=400, help="leads per agent (max 400)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--child-kills", type=int, default=12)
    parser.add_argument("--sweep", choices=("beat", "bench"), default="beat")
    parser.add_argument("--think-min", type=float, default=0.2)
    parser.add_argument("--think-max", type=float, default=1.0)
    parser.add_argument("--twilio-latency", type=float, default=0.05,
                        help="seconds the stand-in takes to answer each send")
    parser.add_argument("--drain-timeout", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep the processes' logs here (default: a temporary directory)")
    # --via db only
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--rate", type=float, default=3.0)
    args = parser.parse_args()
    if args.via == "db":
        return run_direct(args)
    return run_web(args)


if __name__ == "__main__":
    sys.exit(main())
