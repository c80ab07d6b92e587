"""The Flask application factory: settings, database, Celery, the conversation and the routes.

Web handlers stay thin: verify, normalize, call the conversation, render TwiML. Everything the
app needs (database, Redis, Celery, the conversation) hangs off `app.extensions`, so the
workers, which build the same app, share the same config. This is an entry point: it may
import every layer (see `webapp/__init__.py` for their order).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix

from db.session import Database
from webapp.api.blueprint import register_api
from webapp.channels.calendar_feed import bp as calendar_bp
from webapp.channels.simulator.views import bp as simulator_bp
from webapp.channels.sms.idempotency import IdempotencyTokens
from webapp.channels.sms.inbound import SmsInbound
from webapp.channels.sms.rate_limit import RateLimiter, StrangerLimiter
from webapp.channels.sms.webhooks import bp as sms_bp
from webapp.channels.voice.webhooks import bp as voice_bp
from webapp.cli import register_cli
from webapp.config import check_required, settings_from_env
from webapp.conversation.conversation import Conversation
from webapp.conversation.drafting import Drafting
from webapp.conversation.pending_plans import PendingPlans
from webapp.conversation.recent_leads import RecentLeads
from webapp.crm import lead_alerts
from webapp.execution.task_queue import TaskQueue
from webapp.integrations import outbox
from webapp.ops import health, logs, metrics, security_headers
from webapp.ops.counters import timed_parser
from webapp.understanding.draft_writing import make_draft_writer
from webapp.understanding.parser_choice import make_parser, parser_mode
from webapp.web import draft_pages, lead_forms, pages, settings_pages, sign_in_views
from webapp.web.login_links import base_url, link_maker
from workers.flask_celery import celery_init_app
from workers.tasks import (
    enqueue_lead_alerts,
    enqueue_run_plan,
    enqueue_send,
    enqueue_webhook_deliveries,
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    # No app-wide /static route: the only static files are the simulator's, served by its
    # blueprint (and 404 unless it is enabled).
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings_from_env(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_required(app.config)

    # Bodies capped at 64 KB before anything reads them; security headers on every response.
    security_headers.init_app(app)
    if app.config["TRUST_PROXY_HEADERS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    app.extensions["db"] = Database(app.config["DATABASE_URL"])
    celery_init_app(app)
    app.extensions["task_queue"] = TaskQueue(run_plan=enqueue_run_plan,
                                             send_message=enqueue_send)
    # Webhook events are queued as soon as the change that wrote them commits, whichever
    # process and channel made it (the sweep is the fallback).
    outbox.deliver_with(enqueue_webhook_deliveries)
    # Likewise a new lead's alert text, whichever process added the lead (beat is the fallback).
    lead_alerts.alert_with(enqueue_lead_alerts)
    _init_conversation(app)

    app.register_blueprint(sms_bp)
    app.register_blueprint(voice_bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(simulator_bp)  # answers 404 unless SIMULATOR_ENABLED in dev/testing
    register_api(app)  # /api/v1 (Bearer keys), /api/v1/openapi.json, /api/docs
    for web_bp in (sign_in_views.bp, pages.bp, lead_forms.bp,  # the agents' web app
                   settings_pages.bp, draft_pages.bp):
        app.register_blueprint(web_bp)

    logs.init_app(app)  # JSON logs, request id across Flask and Celery, masking
    health.init_app(app)  # GET /healthz, GET /readyz
    metrics.init_app(app)  # GET /metrics, per-route request timing
    register_cli(app)
    return app


def after_fork(app: Flask) -> None:
    """In a process forked from the one that built `app` (gunicorn's preload_app): forget every
    connection the parent may have opened, without closing it (it is the parent's), so no
    socket is ever shared between two processes."""
    db = app.extensions.get("db")
    if db is not None:
        db.after_fork()
    redis = app.extensions.get("redis")
    if redis is not None:
        redis.connection_pool.reset()
    celery = app.extensions.get("celery")
    if celery is not None:
        celery._after_fork()  # Celery's own hook for this (multiprocessing calls it)


def warm_up(app: Flask) -> None:
    """Open what a worker's first request would otherwise open while a client waits: a
    database connection in each pool and the Redis connection. Failures are left for that
    request to meet (and report); a worker must start even while a dependency is down."""
    db, redis = app.extensions.get("db"), app.extensions.get("redis")
    try:
        if db is not None:
            db.warm_up()
    except Exception:  # noqa: BLE001 (logged; the first request will retry)
        app.logger.warning("database not reachable while warming up", exc_info=True)
    try:
        if redis is not None:
            redis.ping()
    except Exception:  # noqa: BLE001
        app.logger.warning("Redis not reachable while warming up", exc_info=True)


def _init_conversation(app: Flask) -> None:
    """Redis-backed state and the shared conversation, with bounded Redis waits so a webhook
    answers quickly even when Redis is down."""
    config = app.config
    redis = Redis.from_url(
        config["REDIS_URL"],
        socket_timeout=config["REDIS_TIMEOUT"],
        socket_connect_timeout=config["REDIS_TIMEOUT"],
        decode_responses=True,
    )
    parser = make_parser(config)  # PARSER=rules|llm|auto
    # Email drafts: the model when it is configured (sharing the parser's circuit breaker),
    # else the template; the texted link is the web app's draft page.
    drafting = Drafting(app.extensions["db"],
                        make_draft_writer(config, getattr(parser, "breaker", None)),
                        page_url=lambda draft_id: draft_pages.draft_url(base_url(config),
                                                                        draft_id))
    conversation = Conversation(
        db=app.extensions["db"],
        pending=PendingPlans(redis, config["PENDING_PLAN_TTL"]),
        recent=RecentLeads(redis, config["CONTEXT_TTL"]),
        enqueue_plan=app.extensions["task_queue"].run_plan,
        parse=timed_parser(parser, parser_mode(config)),
        default_country=config["DEFAULT_COUNTRY"],
        login_link=link_maker(app.extensions["db"], redis, base_url(config)),
        drafting=drafting,
    )
    app.extensions["redis"] = redis
    app.extensions["conversation"] = conversation
    app.extensions["sms_inbound"] = SmsInbound(
        app.extensions["db"],
        conversation,
        RateLimiter(redis, config["RATE_LIMIT_PER_MINUTE"]),
        IdempotencyTokens(redis),
        config["DEFAULT_COUNTRY"],
        StrangerLimiter(redis, config["STRANGER_REPLIES_PER_MINUTE"]),
    )
