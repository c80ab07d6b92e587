"""Binds a Celery app to a Flask app (Flask's `examples/celery` pattern).

Every task runs inside the Flask app context, so tasks reach the same config and database
as the web process.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

from workers import task_names
from workers.broker_transport import TRANSPORT as REDIS_TRANSPORT


def celery_config(config: dict[str, Any]) -> dict[str, Any]:
    broker = config.get("CELERY_BROKER_URL") or config["REDIS_URL"]
    # A Redis restart under a running task must not kill the worker (workers/broker_transport.py).
    transport = REDIS_TRANSPORT if broker.startswith(("redis://", "rediss://")) else None
    return {
        "broker_url": broker,
        "broker_transport": transport,
        "task_ignore_result": True,
        # Safety: a task is acknowledged only after it ran; a task whose worker died goes back.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": 120,
        "task_soft_time_limit": 90,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        # The webhook must answer Twilio quickly even when the broker is down.
        "broker_connection_timeout": 2,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": 3600,
            "socket_timeout": 2,
            "socket_connect_timeout": 2,
        },
        "redis_socket_timeout": 2,
        "redis_socket_connect_timeout": 2,
        "task_publish_retry": False,
        "beat_schedule": beat_schedule(config),
        "include": ["workers.tasks"],
    }


def beat_schedule(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "dispatch-reminders": {
            "task": task_names.DISPATCH_REMINDERS,
            "schedule": float(config["REMINDER_INTERVAL_SECONDS"]),
        },
        "dispatch-daily-agendas": {
            "task": task_names.DISPATCH_AGENDAS,
            "schedule": 60.0,
        },
        # New-lead alerts are handed to a worker as their lead commits; this sends what that
        # hand-off lost, and what quiet hours or an opt-out held.
        "dispatch-lead-alerts": {
            "task": task_names.DISPATCH_LEAD_ALERTS,
            "schedule": 60.0,
        },
        "recover-confirmed-plans": {
            "task": task_names.RECOVER_CONFIRMED_PLANS,
            "schedule": float(config["SWEEP_INTERVAL_SECONDS"]),
        },
        # Webhook retries are due in the database; this queues them, and what a dead worker
        # or a lost broker message left behind.
        "sweep-webhooks": {
            "task": task_names.SWEEP_WEBHOOKS,
            "schedule": float(config["WEBHOOK_SWEEP_INTERVAL_SECONDS"]),
        },
        "prune-idempotency-keys": {
            "task": task_names.PRUNE_IDEMPOTENCY_KEYS,
            "schedule": 3600.0,
        },
    }


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(celery_config(app.config))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app
