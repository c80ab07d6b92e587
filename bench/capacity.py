"""Capacity: what one web process and one worker process handle, measured, and the arithmetic
that turns those figures into a process count for 10,000 agents.

Run from the repo root (needs PostgreSQL at 127.0.0.1:5432 and Redis at localhost:6379):

    .venv/bin/python bench/capacity.py                 # about 2 minutes
    .venv/bin/python bench/capacity.py --plans 300 --duration 6 --no-latency-run   # quicker

All on loopback, all cleaned up afterwards (schema dropped, Redis db flushed, processes killed):

1. a fresh PostgreSQL schema `capacity_<random>` in database `test`, migrated; Redis db 3
   (`--redis`, flushed before and after) for REDIS_URL and the broker;
2. **one web process**: `gunicorn -c gunicorn.conf.py --workers 1` (the config's sync worker
   class, APP_ENV=production, signatures checked), one agent with `--leads` leads; signed plan
   texts ("Update Sarah Smith's status to qualified", ...; a unique MessageSid each) at each
   `--concurrency` for `--duration` s after a warm-up, from `wrk` (Lua script of
   bench/sms_load.py) when installed, else its Python load generator: req/s, p50, p99;
3. **one worker process**: `celery -A workers worker --concurrency 1` (prefork, as the
   Procfile), `--plans` plans already `confirmed` in the database (three actions each: status
   change, logged call, follow-up — the README's seed example, the upper end of a usual plan),
   queued with `workers.tasks.enqueue_run_plan` as a YES does; each run sends its result text
   through the real twilio client to the loopback Twilio stand-in: plans/s and sends/s
   (a plan is two tasks: run_plan, then send_message);
4. the same worker at the Procfile's concurrency (4) with the stand-in answering each send after
   `--twilio-latency` s (Twilio's API takes ~0.1–0.3 s to answer), which is what bounds a worker
   in production: its sends wait on the network, not on CPU (`--no-latency-run` skips it);
5. the arithmetic for `--agents` agents, every assumption printed (and a flag to change it).

The 2-core machine running this also runs PostgreSQL, Redis, the load generator and the
stand-in, and maybe other people's work: the load average is printed with every figure; treat
the figures as a floor for a dedicated host.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sms_load import (  # noqa: E402
    ACCOUNT_SID,
    ASSISTANT_NUMBER,
    AUTH_TOKEN,
    CONFIRM_TAIL,
    PUBLIC_BASE_URL,
    Gunicorn,
    RequestMaker,
    create_schema,
    drop_schema,
    flush_redis,
    machine_cpu,
    measure,
    schema_url,
    seed,
)

CELERY = ROOT / ".venv" / "bin" / "celery"
WORKER_AGENT_PHONE = "+13125550200"


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- one web process -----------------------------------------------------------------------


def web_capacity(env: dict[str, str], args: argparse.Namespace, workdir: Path) -> list[dict]:
    """One gunicorn worker (the config's class), plan texts at each concurrency."""
    gunicorn_args = argparse.Namespace(
        workers=1, worker_class="sync", threads=1, recycle=False,
        gunicorn_conf=str(ROOT / "gunicorn.conf.py"),
    )
    server = Gunicorn("web", "wsgi:app", env, gunicorn_args, workdir)
    results = []
    try:
        server.wait_ready()
        maker = RequestMaker()
        for concurrency in args.concurrency:
            run_args = argparse.Namespace(
                loadgen=args.loadgen, warmup=args.warmup, duration=args.duration,
                concurrency=concurrency, max_requests=60000,
            )
            result = measure(server, maker, [], CONFIRM_TAIL, run_args, workdir)
            result.update(concurrency=concurrency, load=load())
            results.append(result)
            print(f"  concurrency {concurrency:>2}: {result['rps']:7.1f} req/s   "
                  f"p50 {result['p50_ms']:6.1f} ms   p99 {result['p99_ms']:6.1f} ms   "
                  f"n={result['completed']}  errors {result['errors']}   "
                  f"gunicorn CPU {result['server_cpu'] / result['completed'] * 1e3:.1f} "
                  f"ms/request, machine {result['machine_busy']:.0%} busy, {result['load']}")
            for sample in result["error_samples"][:3]:
                print(f"      error: {sample}")
        log = server.logs()
        if "Traceback" in log:
            print("  gunicorn log has a traceback:\n" + log[-2000:])
    finally:
        server.stop()
    return results


# --- one worker process --------------------------------------------------------------------


def seed_plans(app: Any, n: int, tag: str) -> list[str]:
    """An agent with `n` new leads and one `confirmed` plan per lead (not yet queued)."""
    from sqlalchemy import insert, select

    from db.models import ExecutedPlan, Lead, User
    from webapp.database import get_db
    from webapp.understanding.plan import (
        LogInteraction,
        ScheduleFollowUp,
        UpdateStatus,
        action_to_dict,
    )

    db = get_db(app)
    with db.session() as session:
        agent = session.scalar(select(User).where(User.phone == WORKER_AGENT_PHONE))
        if agent is None:
            agent = User(name="Alex Rivera", phone=WORKER_AGENT_PHONE, timezone="America/Chicago")
            session.add(agent)
            session.flush()
        agent_id = agent.id
        session.execute(insert(Lead), [
            {"agent_id": agent_id, "name": f"Lead {tag}{k:04d}", "phone": None, "status": "new"}
            for k in range(n)
        ])
        lead_ids = list(session.scalars(select(Lead.id).where(
            Lead.agent_id == agent_id, Lead.name.like(f"Lead {tag}%")).order_by(Lead.id)))
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
        plan_rows = []
        for k, lead_id in enumerate(lead_ids):
            name = f"Lead {tag}{k:04d}"
            actions = [
                UpdateStatus(lead_id=lead_id, lead=name, status="contacted", old_status="new"),
                LogInteraction(lead_id=lead_id, lead=name, interaction_type="call",
                               note="went well"),
                ScheduleFollowUp(lead_id=lead_id, lead=name, due_at=due,
                                 title="send the contract"),
            ]
            plan_rows.append({
                "plan_id": f"cap{tag}{k:05d}{uuid.uuid4().hex[:8]}", "agent_id": agent_id,
                "channel": "sms", "state": "confirmed",
                "plan": {"actions": [action_to_dict(a) for a in actions],
                         "summary": f"plan {k}"},
            })
        session.execute(insert(ExecutedPlan), plan_rows)
        session.commit()
    return [row["plan_id"] for row in plan_rows]


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in process group `pgid`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the pool child too, if it outlived the parent
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


def worker_capacity(app: Any, env: dict[str, str], standin: Any, n: int, concurrency: int,
                    latency: float, workdir: Path, timeout: float) -> dict:
    """Start one worker, queue `n` confirmed plans, time until every result text is in."""
    from sqlalchemy import func, select

    from db.models import ExecutedPlan, Message
    from webapp.database import get_db
    from workers.tasks import enqueue_run_plan

    tag = f"c{concurrency}l{int(latency * 1000)}"
    plan_ids = seed_plans(app, n, tag)
    name = f"capacity-{tag}"
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(CELERY), "-A", "workers", "worker", "--pool", "prefork",
             "--concurrency", str(concurrency), "-n", f"{name}@%h", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--max-tasks-per-child", "1000"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        celery = app.extensions["celery"]
        deadline = time.monotonic() + 30
        while not any(key.startswith(f"{name}@") for reply in celery.control.ping(timeout=0.5)
                      for key in reply):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not come up: {log_path.read_text()[-3000:]}")
        if latency:
            standin.hang_next(latency, times=n)
        before = len(standin.messages)
        cpu_before = group_cpu_seconds(proc.pid)
        machine_before = machine_cpu()
        started = time.monotonic()
        for plan_id in plan_ids:
            if not enqueue_run_plan(plan_id):
                raise RuntimeError("broker refused a task")
        queued_in = time.monotonic() - started
        deadline = started + timeout

        def counts() -> tuple[int, int]:
            with get_db(app).session() as session:
                executed = session.scalar(select(func.count()).select_from(ExecutedPlan).where(
                    ExecutedPlan.plan_id.in_(plan_ids), ExecutedPlan.state == "executed"))
                sent = session.scalar(select(func.count()).select_from(Message).where(
                    Message.plan_id.in_(plan_ids), Message.status == "sent"))
            return executed or 0, sent or 0

        # Done when every result text is `sent` in the database (Twilio answered and the
        # worker recorded it), not merely received by the stand-in.
        while True:
            if len(standin.messages) - before >= n:
                executed, sent = counts()
                if sent >= n:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"only {len(standin.messages) - before} of {n} texts in "
                                   f"{timeout:g}s: {log_path.read_text()[-3000:]}")
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        cpu = group_cpu_seconds(proc.pid) - cpu_before
        busy, total = (a - b for a, b in zip(machine_cpu(), machine_before, strict=True))
        texts = len(standin.messages) - before
        return {
            "plans": n, "concurrency": concurrency, "latency": latency,
            "elapsed": elapsed, "queued_in": queued_in, "plans_per_s": executed / elapsed,
            "sends_per_s": texts / elapsed, "executed": executed, "sent": sent,
            "texts": texts, "cpu_ms_per_plan": cpu / n * 1e3,
            "machine_busy": busy / total if total else float("nan"), "load": load(),
            "log_errors": "Traceback" in log_path.read_text(errors="replace"),
        }
    finally:
        stop_group(proc)


def print_worker(r: dict) -> None:
    print(f"  concurrency {r['concurrency']}, Twilio answers in "
          f"{r['latency'] * 1000:.0f} ms: {r['plans']} plans in {r['elapsed']:.1f} s "
          f"(queued in {r['queued_in']:.1f} s) -> {r['plans_per_s']:.1f} plans/s, "
          f"{r['sends_per_s']:.1f} sends/s ({2 * r['plans_per_s']:.1f} tasks/s); "
          f"executed {r['executed']}, sent {r['sent']}, stand-in got {r['texts']}; "
          f"worker CPU {r['cpu_ms_per_plan']:.1f} ms/plan, machine {r['machine_busy']:.0%} busy, "
          f"{r['load']}" + ("; WORKER LOG HAS A TRACEBACK" if r["log_errors"] else ""))


# --- the arithmetic ------------------------------------------------------------------------


def arithmetic(args: argparse.Namespace, web_rps: float, worker_cpu_bound: float,
               worker_prod: float | None) -> None:
    a = args
    webhooks = a.inbound + (a.plans_per_agent + a.other_texts) * a.callbacks
    units = a.plans_per_agent + a.other_texts  # worker work per agent per day, in plan units

    def peak(per_agent_day: float) -> tuple[float, float, float]:
        daily = a.agents * per_agent_day
        hour_avg = daily * a.peak_hour_share / 3600
        return daily, hour_avg, hour_avg * a.peak_factor

    def needed(rate: float, capacity: float) -> int:
        return math.ceil(rate / (capacity * a.utilization)) + a.spare

    print(f"\nArithmetic for {a.agents:,} agents. Assumptions (flags in brackets):")
    print(f"  - an agent texts us {a.inbound:g} times a day [--inbound]: commands, YES, clarify "
          "answers, queries;")
    print(f"  - {a.plans_per_agent:g} confirmed plans a day [--plans-per-agent], each one "
          "run_plan + one result text;")
    print(f"  - {a.other_texts:g} other texts we send a day [--other-texts]: reminders, the "
          "morning agenda, notices;")
    print(f"  - {a.callbacks:g} Twilio status callbacks per text we send [--callbacks] "
          "(sent, delivered), each a POST /sms/status;")
    print(f"  - {a.peak_hour_share:.0%} of a day's traffic falls in the busiest hour "
          f"[--peak-hour-share] (a flat 10-hour working day would be 10%);")
    print(f"  - the busiest minute runs at {a.peak_factor:g}x that hour's average "
          "[--peak-factor];")
    print(f"  - each process is sized to run at <= {a.utilization:.0%} of its measured capacity "
          f"[--utilization], plus {a.spare} spare for a host/process loss [--spare];")
    print("  - a webhook costs what a plan text costs (status callbacks and YES are cheaper: "
          "one row each), and an extra text costs what a whole plan + its text costs in a "
          "worker (it is only the send half): both err high.")

    daily, hour_avg, web_peak = peak(webhooks)
    print(f"\n  Web: {a.inbound:g} + ({a.plans_per_agent:g} + {a.other_texts:g}) x "
          f"{a.callbacks:g} = {webhooks:g} webhooks/agent/day -> {daily:,.0f}/day; busiest "
          f"hour {daily:,.0f} x {a.peak_hour_share:g} / 3600 = {hour_avg:.1f} req/s; peak "
          f"x{a.peak_factor:g} = {web_peak:.1f} req/s")
    web_n = needed(web_peak, web_rps)
    print(f"       one web process (1 sync gunicorn worker) measured {web_rps:.0f} req/s -> "
          f"ceil({web_peak:.1f} / ({web_rps:.0f} x {a.utilization:g})) + {a.spare} = "
          f"{web_n} web processes (gunicorn workers in total, over >= 2 hosts) with PARSER=rules")
    inbound_peak = peak(a.inbound)[2]
    busy_model = inbound_peak * a.model_share * a.model_latency
    web_model_n = math.ceil((web_peak / web_rps + busy_model) / a.utilization) + a.spare
    print(f"       with the model (PARSER=auto/llm): a sync worker waits for it. If "
          f"{a.model_share:.0%} of inbound texts go to it [--model-share] and it answers in "
          f"{a.model_latency:g} s [--model-latency], the {inbound_peak:.1f} inbound texts/s at "
          f"peak keep {inbound_peak:.1f} x {a.model_share:g} x {a.model_latency:g} = "
          f"{busy_model:.1f} workers waiting (Little's law) -> ceil(({web_peak:.1f}/{web_rps:.0f}"
          f" + {busy_model:.1f}) / {a.utilization:g}) + {a.spare} = {web_model_n} web processes")

    daily, hour_avg, work_peak = peak(units)
    print(f"\n  Workers: {a.plans_per_agent:g} plans + {a.other_texts:g} other texts = "
          f"{units:g} plan-units/agent/day -> {daily:,.0f}/day; busiest hour "
          f"{hour_avg:.1f}/s; peak x{a.peak_factor:g} = {work_peak:.1f} plan-units/s "
          f"({work_peak:.1f} sends/s, {a.plans_per_agent / units * work_peak:.1f} plans/s)")
    cpu_n = needed(work_peak, worker_cpu_bound)
    print(f"       one worker process, concurrency 1, instant Twilio: {worker_cpu_bound:.1f} "
          f"plans/s -> ceil({work_peak:.1f} / ({worker_cpu_bound:.1f} x {a.utilization:g})) + "
          f"{a.spare} = {cpu_n} worker processes at concurrency 1 (no wait on Twilio)")
    serial = 1 / (a.twilio_latency + 1 / worker_cpu_bound)
    print(f"       (derived, not measured: at concurrency 1 with Twilio answering in "
          f"{a.twilio_latency * 1000:.0f} ms a worker manages at most 1 / ({a.twilio_latency:g}"
          f" + 1/{worker_cpu_bound:.1f}) = {serial:.1f} plans/s -> "
          f"{needed(work_peak, serial)} processes: hence concurrency > 1 for sends)")
    per_send, deployed = worker_cpu_bound, cpu_n
    if worker_prod is not None:
        prod_n = needed(work_peak, worker_prod)
        per_send, deployed = worker_prod, prod_n
        print(f"       one worker process, concurrency 4, Twilio answering in "
              f"{a.twilio_latency * 1000:.0f} ms: {worker_prod:.1f} plans/s -> "
              f"ceil({work_peak:.1f} / ({worker_prod:.1f} x {a.utilization:g})) + {a.spare} = "
              f"{prod_n} worker processes at concurrency 4 (what to deploy)")
    burst_texts = a.agents * a.agenda_share
    clear_s = burst_texts / (per_send * max(1, deployed - a.spare))
    print(f"\n  Morning agenda burst: at AGENDA_HOUR every agent of a time zone gets one in the "
          f"same minute; with {a.agenda_share:.0%} of agents in one zone [--agenda-share] that "
          f"is {burst_texts:,.0f} texts queued at once. The queue absorbs it: "
          f"{deployed - a.spare} workers x {per_send:.1f} sends/s clear it in about "
          f"{clear_s:.0f} s (agendas a little late, nothing lost); their status callbacks "
          f"reach the web at {a.callbacks:g}x that send rate.")
    print("  Outside this app: Twilio's own sending rate (messages/s per number or per "
          f"Messaging Service / 10DLC campaign) must cover {work_peak:.0f} sends/s at peak; "
          "PostgreSQL needs about one connection per web process and per worker pool child "
          "(+ beat) in steady use.")


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")],
                        default=[4, 8], help="web load concurrencies, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per web run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of web warm-up")
    parser.add_argument("--leads", type=int, default=1000, help="leads of the web agent")
    parser.add_argument("--plans", type=int, default=500, help="plans per worker run")
    parser.add_argument("--twilio-latency", type=float, default=0.2,
                        help="seconds the stand-in takes per send in the concurrency-4 run")
    parser.add_argument("--no-latency-run", action="store_true",
                        help="skip the concurrency-4 run with Twilio latency")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://localhost:6379/3")
    # The arithmetic's assumptions.
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--inbound", type=float, default=30.0)
    parser.add_argument("--plans-per-agent", type=float, default=10.0)
    parser.add_argument("--other-texts", type=float, default=10.0)
    parser.add_argument("--callbacks", type=float, default=2.0)
    parser.add_argument("--peak-hour-share", type=float, default=0.15)
    parser.add_argument("--peak-factor", type=float, default=3.0)
    parser.add_argument("--utilization", type=float, default=0.5)
    parser.add_argument("--spare", type=int, default=1)
    parser.add_argument("--agenda-share", type=float, default=0.4)
    parser.add_argument("--model-share", type=float, default=0.1)
    parser.add_argument("--model-latency", type=float, default=1.5)
    args = parser.parse_args()
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "python"

    from db import migrate
    from tests.support.twilio_standin import TwilioStandIn
    from webapp.app import create_app
    from webapp.database import get_db

    schema = f"capacity_{uuid.uuid4().hex[:10]}"
    url = schema_url(args.pg, schema)
    workdir = Path(tempfile.mkdtemp(prefix="capacity_"))
    print(f"setup: schema {schema}, Redis {args.redis}, load generator {args.loadgen}; "
          f"{load()} (others may be using this machine)")
    create_schema(args.pg, schema)
    app = None
    try:
        migrate.upgrade(url)
        flush_redis(args.redis)
        (workdir / "metrics").mkdir()
        base_env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("TWILIO_", "OPENAI_", "CELERY_", "WEB_CONCURRENCY"))}
        base_env.update(
            APP_ENV="production", DATABASE_URL=url, REDIS_URL=args.redis,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_PHONE_NUMBER=ASSISTANT_NUMBER, PUBLIC_BASE_URL=PUBLIC_BASE_URL,
            PARSER="rules", SECRET_KEY="bench", RATE_LIMIT_PER_MINUTE=str(10**9),
            PROMETHEUS_MULTIPROC_DIR=str(workdir / "metrics"), PYTHONDONTWRITEBYTECODE="1",
            LOG_LEVEL="WARNING",
        )

        import random

        seed(url, args.leads, random.Random(7))
        web_env = {**base_env, "TWILIO_API_BASE_URL": "http://127.0.0.1:9", "SMS_SENDER": ""}
        print(f"\nOne web process: gunicorn -c gunicorn.conf.py --workers 1 (sync), POST /sms "
              f"signed plan texts, {args.duration:g} s per concurrency after {args.warmup:g} s "
              f"warm-up, agent with {args.leads} leads:")
        web = web_capacity(web_env, args, workdir)
        flush_redis(args.redis)

        with TwilioStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as standin:
            worker_env = {**base_env, "TWILIO_API_BASE_URL": standin.base_url,
                          "SMS_SENDER": "twilio", "TWILIO_TIMEOUT": "5"}
            app = create_app({
                "APP_ENV": "testing", "TESTING": True, "DATABASE_URL": url,
                "REDIS_URL": args.redis, "CELERY_BROKER_URL": None,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "TWILIO_PHONE_NUMBER": ASSISTANT_NUMBER, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
                "TWILIO_API_BASE_URL": standin.base_url, "PARSER": "rules",
            })
            app.extensions["celery"].set_current()
            print(f"\nOne worker process: celery worker (prefork), {args.plans} confirmed plans "
                  "queued as a YES queues them, each run + result text to the Twilio stand-in:")
            cpu_bound = worker_capacity(app, worker_env, standin, args.plans, 1, 0.0, workdir,
                                        timeout=150)
            print_worker(cpu_bound)
            prod = None
            if not args.no_latency_run:
                flush_redis(args.redis)
                prod = worker_capacity(app, worker_env, standin, args.plans, 4,
                                       args.twilio_latency, workdir, timeout=150)
                print_worker(prod)

        web_rps = min(r["rps"] for r in web)
        arithmetic(args, web_rps, cpu_bound["plans_per_s"],
                   prod["plans_per_s"] if prod else None)
        print(f"\n(finished with {load()})")
        ok = (all(r["errors"] == 0 for r in web)
              and all(r is None or (r["executed"] == r["plans"] == r["sent"] == r["texts"])
                      for r in (cpu_bound, prod)))
        if not ok:
            print("ERRORS: see above")
        return 0 if ok else 1
    finally:
        if app is not None:
            get_db(app).dispose()
        try:
            drop_schema(args.pg, schema)
        finally:
            flush_redis(args.redis)
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
