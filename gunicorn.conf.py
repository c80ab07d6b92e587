"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS, or the variables read
below), so one file serves a small VM and a large one.

Why these values:

* **Sync workers, 2 × CPU + 1.** A webhook is short and mostly waits on PostgreSQL and Redis;
  sync workers let ``timeout`` kill a request that hangs, which a threaded worker cannot.
  ``WEB_CONCURRENCY`` overrides the count (each worker holds a DB pool and a Redis connection).
* **timeout 12 s < Twilio's 15 s.** A stuck worker is killed and replaced before Twilio gives
  up, so the next webhook does not queue behind it. Our own bounds (Redis 1 s, broker 2 s,
  parser) keep a healthy request far below this.
* **The reverse proxy terminates TLS and buffers slow clients**; bind to loopback unless
  ``BIND`` says otherwise. Turn on ``TRUST_PROXY_HEADERS`` only behind that proxy.
* **Prometheus multiprocess**: the metrics directory is set before any worker imports
  prometheus_client, and a dead worker's live files are dropped in ``child_exit``.
* **Lead directories out of full garbage collections** (``post_worker_init``): a pause of
  ~90 ms per worker otherwise; webapp/conversation/lead_directories.py has the details.
* **Logs**: JSON on stderr, access lines included, each with the request id the app put in the
  ``X-Request-ID`` response header.
"""

from __future__ import annotations

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
max_requests = 2000  # recycle workers now and then (bounded memory growth)
max_requests_jitter = 200
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = False  # each worker opens its own DB/Redis connections after the fork

# Prometheus multiprocess mode: web and worker processes must share this directory.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "fieldline-metrics")
)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Logging: both gunicorn loggers through the app's JSON formatter and masking filter.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
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


def post_worker_init(worker: Any) -> None:
    """A long-lived web worker keeps each agent's lead directory out of full garbage
    collections (webapp/conversation/lead_directories.py says why)."""
    from webapp.conversation import lead_directories

    lead_directories.freeze_after_build = True


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was recycled: drop its live-gauge metric files."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
