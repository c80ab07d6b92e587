"""Chaos benchmark: about a minute of confirmed plans while real Celery workers are SIGKILLed
and the broker's Redis database is emptied once; then the figures the issue asks for.

    .venv/bin/python bench/chaos.py                       # SQLite, ~60 s, 12 kills
    .venv/bin/python bench/chaos.py --database postgresql # needs TEST_DATABASE_URL
    .venv/bin/python bench/chaos.py --seconds 120 --kills 24 --seed 7

It uses the harness of tests/test_chaos.py (same worker processes, same counting), with longer
rounds so the run also covers idle stretches and a worker's cold start. Redis database 7
(`CHAOS_REDIS_URL`) is emptied at the start and the end: it must be nobody else's.
Exit status 1 when a plan was lost or run twice, or a text was lost or sent twice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis import Redis  # noqa: E402

from db import migrate  # noqa: E402
from tests.databases import TemporarySchema  # noqa: E402
from tests.test_chaos import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    CHAOS_MAX_ATTEMPTS,
    CHAOS_REDIS_URL,
    Figures,
    Fleet,
    app_settings,
    run_chaos,
    worker_env,
)
from tests.twilio_standin import TwilioStandIn  # noqa: E402
from webapp import create_app, get_db  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the fault phase")
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=3.0,
                        help="plans confirmed per second between the bursts")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log-dir", type=Path, default=None,
                        help="keep the workers' logs here (default: a temporary directory)")
    args = parser.parse_args()

    redis = Redis.from_url(CHAOS_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    redis.ping()
    redis.flushdb()
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="fl_chaos_")))
        if args.database == "sqlite":
            url = "sqlite:///" + str(work / "chaos.sqlite3")
        else:
            base = os.environ.get("TEST_DATABASE_URL")
            if not base:
                parser.error("--database postgresql needs TEST_DATABASE_URL")
            url = stack.enter_context(TemporarySchema(base, prefix="fl_chaos")).url
        migrate.upgrade(url)
        standin = stack.enter_context(TwilioStandIn(account_sid=ACCOUNT_SID,
                                                    auth_token=AUTH_TOKEN))
        env = worker_env(url, standin.base_url, CHAOS_MAX_ATTEMPTS)
        app = create_app(app_settings(env))
        app.extensions["celery"].set_current()
        stack.callback(get_db(app).dispose)
        logs = args.log_dir or work
        logs.mkdir(parents=True, exist_ok=True)
        fleet = Fleet(env, logs, size=args.workers, concurrency=2)
        stack.callback(fleet.stop)
        stack.callback(redis.flushdb)

        started = time.monotonic()
        figures = run_chaos(app, fleet, standin, redis, rounds=args.kills, burst=(2, 5),
                            round_seconds=max(0.5, args.seconds / args.kills - 0.2),
                            drain_timeout=120.0, steady_rate=args.rate, seed=args.seed)
        report(figures, args.database, time.monotonic() - started)
        bad = (figures.still_confirmed or figures.duplicates or figures.missing_effects
               or figures.texts_lost or figures.texts_twice)
        return 1 if bad else 0


def report(figures: Figures, database: str, seconds: float) -> None:
    latencies = sorted(figures.latencies) or [0.0]
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    rows = [
        ("database", database),
        ("run time", f"{seconds:.0f} s (drain {figures.drain_seconds:.1f} s)"),
        ("faults", f"{figures.kills} SIGKILLs ({figures.kills - figures.child_kills} whole "
                   f"workers, {figures.child_kills} pool children), "
                   f"{figures.broker_wipes} broker wipe"),
        ("plans confirmed", figures.plans),
        ("plans executed", figures.executed),
        ("plans failed (agent told)", figures.failed),
        ("plans lost (still confirmed)", figures.still_confirmed),
        ("plans with a duplicated effect", figures.duplicates),
        ("plans with a missing effect", figures.missing_effects),
        ("result texts sent", figures.texts_sent),
        ("result texts unknown (listed by `ops unknown-sends`)",
         f"{figures.texts_unknown} ({figures.unknown_received} of them did reach Twilio)"),
        ("result texts lost", figures.texts_lost),
        ("result texts received twice", figures.texts_twice),
        ("confirmed → executed", f"median {p50:.2f} s, p95 {p95:.2f} s, "
                                 f"longest {figures.longest_seconds:.1f} s"),
        ("attempts when done", ", ".join(f"{k}: {v}" for k, v in
                                         sorted(figures.attempts.items()))),
        ("sweeps run", figures.sweeps),
    ]
    width = max(len(str(name)) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    for problem in figures.problems:
        print("  problem:", problem)


if __name__ == "__main__":
    sys.exit(main())
