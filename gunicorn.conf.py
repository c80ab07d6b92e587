"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS, or the variables read
below), so one file serves a small VM and a large one. `bench/sms_load.py` measures this very
file by default (issue 15, "tail latency"); change a value here, run it again.

Why these values:

* **Sync workers, 2 × CPU + 1.** A webhook is short and mostly waits on PostgreSQL and Redis;
  sync workers let ``timeout`` kill a request that hangs, which a threaded worker cannot.
  ``WEB_CONCURRENCY`` overrides the count (each worker holds a DB pool and a Redis connection).
* **timeout 12 s < Twilio's 15 s.** A stuck worker is killed and replaced before Twilio gives
  up, so the next webhook does not queue behind it. Our own bounds (Redis 1 s, broker 2 s,
  parser) keep a healthy request far below this.
* **Warm, rare, jittered recycling.** A recycled worker used to import the whole app and open
  its connections while requests queued behind it: with ``max_requests = 2000`` that happened
  every few seconds under load and put the p99 at 100–800 ms. Now the app is imported once, in
  the master (``preload_app``), and every worker is a fork of it: ready at once, with the
  master's objects frozen out of its garbage collections (``pre_fork``). Each worker then drops
  any connection the master might hold and opens its own before it takes a request
  (``post_fork``, ``post_worker_init``; see `webapp.app.after_fork` and `warm_up`). Recycling
  (bounded memory growth) comes every ``GUNICORN_MAX_REQUESTS`` (100,000) requests plus up to
  half again at random, so two workers are never recycled together.
* **preload_app means a reload (HUP) does not load new code**: the new workers are forks of the
  old master. Deploy new code with a restart (``systemctl restart fieldline-web``, one web host
  at a time behind the proxy for no gap; gunicorn's USR2 + QUIT also works); HUP only re-reads
  this file. ``GUNICORN_PRELOAD=false`` trades the warm forks back for code-loading reloads.
* **The reverse proxy terminates TLS and buffers slow clients**; bind to loopback unless
  ``BIND`` says otherwise. Turn on ``TRUST_PROXY_HEADERS`` only behind that proxy.
* **Request limits**: request line and header sizes are gunicorn's checks; the body is capped
  by the app (``MAX_CONTENT_LENGTH``, 64 KB) before anything reads it.
* **Prometheus multiprocess**: the metrics directory is set before any worker imports
  prometheus_client, and a dead worker's live files are dropped in ``child_exit``.
* **Lead directories out of full garbage collections** (``post_worker_init``): a pause of
  ~90 ms per worker otherwise; webapp/conversation/lead_directories.py has the details.
* **Logs**: JSON on stderr, access lines included, each with the request id the app put in the
  ``X-Request-ID`` response header. The ``Server`` header says only "gunicorn" (no version).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import tempfile
from typing import Any

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 12)
graceful_timeout = 10  # a deploy waits this long for in-flight webhooks
keepalive = 5  # keep the proxy's upstream connections a little
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 100_000)
max_requests_jitter = max_requests // 2
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# See the docstring: forks are warm; connections are opened after the fork.
preload_app = (os.environ.get("GUNICORN_PRELOAD") or "true").strip().lower() not in (
    "0", "false", "no", "off")

# Prometheus multiprocess mode: web and worker processes must share this directory.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "fieldline-metrics")
)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Logging: both gunicorn loggers through the app's JSON formatter and masking filter.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# The path (%(U)s) is masked by webapp.ops.logs.MaskingFilter (calendar tokens); the query
# string is never logged.
access_log_format = (
    '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
)
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "webapp.ops.logs.RequestIdFilter"},
        "mask": {"()": "webapp.ops.logs.MaskingFilter"},
    },
    "formatters": {"json": {"()": "webapp.ops.logs.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["request_id", "mask"],
        }
    },
    "root": {"handlers": ["stderr"], "level": loglevel.upper()},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(),
                           "propagate": False},
        "gunicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "alembic.runtime.plugins": {"level": "WARNING"},  # announces itself on import
    },
}


def _flask_app(server_or_worker: Any) -> Any:
    """The Flask app gunicorn loaded in the master (preload_app), or None without preload."""
    if not server_or_worker.cfg.preload_app:
        return None
    return server_or_worker.app.wsgi()


def when_ready(server: Any) -> None:
    """The master has imported the app: collect its import-time garbage once, before forks."""
    gc.collect()


def pre_fork(server: Any, worker: Any) -> None:
    """Freeze the master's objects (the imported app) before each fork: the children never
    visit them in a garbage collection, which also keeps their pages shared."""
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker: forget any connection inherited from the master."""
    app = _flask_app(worker)
    if app is not None:
        from webapp.app import after_fork

        after_fork(app)


def post_worker_init(worker: Any) -> None:
    """Before the worker takes its first request: its own database and Redis connections
    opened, and each agent's lead directory kept out of full garbage collections
    (webapp/conversation/lead_directories.py says why)."""
    from webapp.conversation import lead_directories

    lead_directories.freeze_after_build = True
    app = _flask_app(worker)
    if app is not None:
        from webapp.app import warm_up

        warm_up(app)


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was recycled: drop its live-gauge metric files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
