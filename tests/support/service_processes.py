"""Real service processes (gunicorn, celery workers, beat) for tests and benches that kill them.

Each process leads a process group of its own, so one `killpg(SIGKILL)` takes gunicorn's master
and workers, or celery's main process and pool children, at once — the way the OOM killer or a
redeploy without a warm shutdown does. `stop_all` is the finalizer: SIGTERM to every group, then
SIGKILL to whatever is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from redis import Redis

from tests.support.twilio_standin import TwilioStandIn

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"


# Settings a developer's shell may hold that would point a spawned process at real services.
_NOT_INHERITED = ("TWILIO_", "OPENAI_", "CELERY_", "WEB_CONCURRENCY")


def service_env(database_url: str, redis_url: str, twilio: TwilioStandIn,
                assistant_number: str, metrics_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of the web, worker and beat processes a test or bench starts: this
    process's own, less `_NOT_INHERITED`, plus one app on `database_url` with `redis_url` as
    Redis and broker, texting through the Twilio stand-in, rules parser; `settings` add to it
    or override it (e.g. RECOVERY_GRACE_SECONDS, LOG_LEVEL)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}
    return {
        **inherited,
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": "",  # the broker is REDIS_URL
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_PHONE_NUMBER": assistant_number,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TWILIO_TIMEOUT": "5",
        "SMS_SENDER": "twilio",
        "PARSER": "rules",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONUNBUFFERED": "1",
        **settings,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessGroups:
    """Named child processes, each in its own session, logging to `<log_dir>/<name>.log`."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=REPO, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        return proc

    def alive(self, name: str) -> bool:
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def kill_group(self, name: str) -> None:
        """SIGKILL the whole group: no warm shutdown, no acks."""
        proc = self.procs.get(name)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)

    def pool_children(self, name: str) -> list[int]:
        """The pids of a live process's children (a celery worker's pool)."""
        if not self.alive(name):
            return []
        children: list[int] = []
        for task in Path(f"/proc/{self.procs[name].pid}/task").glob("*"):
            try:
                children += [int(pid) for pid in (task / "children").read_text().split()]
            except OSError:
                continue
        return children

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 8
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the group too: a pool child can outlive its parent
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait(timeout=5)

    def logs(self, tail: int = 3000, pattern: str = "*.log") -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}"
                         for path in sorted(self.log_dir.glob(pattern)))


def restart_redis_empty(redis: Redis) -> int:
    """What a Redis restart does here (it keeps nothing on disk), to `redis`'s own database only:
    FLUSHDB — every queued task, the unacked set and the queue bindings gone — then CLIENT KILL
    by id for every other client on that database, never anyone else's. Returns connections
    dropped."""
    db = redis.connection_pool.connection_kwargs.get("db", 0)
    redis.flushdb()
    own = redis.client_id()
    dropped = 0
    for client in redis.client_list():
        if int(client.get("db", -1)) == db and int(client["id"]) != own:
            try:
                redis.client_kill_filter(_id=client["id"])
                dropped += 1
            except Exception:  # noqa: BLE001 (gone already)
                pass
    return dropped


class PrivateRedis:
    """A redis-server of the test's own, on a free loopback port, keeping nothing on disk, that
    the test may kill and start again at will: what a Redis restart really does to the
    processes connected to it (dropped sockets, then an empty server on the same address),
    without touching the machine's shared Redis, which other test runs use."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        with open(self.workdir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    if client.ping():
                        return
                except Exception:  # noqa: BLE001 (not listening yet)
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: every connection drops at once, and everything in it is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
