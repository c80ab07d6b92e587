"""Prometheus counters and histograms, and the exposition: no Flask, so any layer may count.

Multiprocess mode: gunicorn runs several web processes and Celery several worker processes, so
each writes its figures to files in ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up
(`prometheus_client.multiprocess.MultiProcessCollector`). The variable must be set, and the
same directory given to web and worker, *before* any process imports `prometheus_client`:
gunicorn.conf.py, the Procfile and the systemd units do that. Without it (development, tests)
the metrics live in this process only, which is all a single process needs.

There are no file-backed gauges on purpose: the one gauge (queue depth) is computed when
scraped, so files left by dead processes only ever hold counters and histograms, which stay
correct when summed. The HTTP side (request timing, GET /metrics) is `webapp.ops.metrics`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

# Created before prometheus_client writes its first file, so a fresh host needs no extra step.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (  # noqa: E402
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])

# Metrics are defined on a registry of our own, never the process-global default one: in
# multiprocess mode the scrape builds a fresh registry over the files instead.
REGISTRY = CollectorRegistry(auto_describe=True)

# Twilio gives up on a webhook after 15 s; the buckets are dense where a reply is still useful.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0)
PARSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

WEBHOOK_LATENCY = Histogram(
    "fieldline_webhook_duration_seconds",
    "Time to answer an HTTP request, by route (the Twilio webhooks are /sms, /sms/status, "
    "/voice...); Twilio waits at most 15 s.",
    ["endpoint", "method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_RESPONSES = Counter(
    "fieldline_http_responses",
    "HTTP responses by route and status code.",
    ["endpoint", "status"],
    registry=REGISTRY,
)
MESSAGES = Counter(
    "fieldline_messages",
    "Texts and calls. direction=inbound: kind is the channel (sms, voice). "
    "direction=outbound: kind is reply (in the webhook answer) or the send's outcome "
    "(sent, simulated, failed, unknown, suppressed).",
    ["direction", "kind"],
    registry=REGISTRY,
)
PLANS = Counter(
    "fieldline_plans",
    "Plans by outcome: planned (shown, awaiting YES), confirmed, executed, failed, expired "
    "(a YES that found no plan waiting: it timed out or never existed).",
    ["outcome"],
    registry=REGISTRY,
)
PARSED = Counter(
    "fieldline_parser_messages",
    "Messages understood, by the kind of answer (plan, query, confirm, clarify, ...).",
    ["parser", "kind"],
    registry=REGISTRY,
)
PARSE_LATENCY = Histogram(
    "fieldline_parser_duration_seconds",
    "Time to parse one message.",
    ["parser"],
    buckets=PARSE_BUCKETS,
    registry=REGISTRY,
)
REMINDERS = Counter(
    "fieldline_reminders",
    "Follow-up reminders: sent (own text), late (sent after the late threshold; also counted "
    "as sent or caught_up), caught_up (folded into one catch-up text).",
    ["outcome"],
    registry=REGISTRY,
)
TWILIO_ERRORS = Counter(
    "fieldline_twilio_errors",
    "Twilio REST failures, by Twilio error code (or HTTP status, or a transport reason such "
    "as connect_timeout / read_timeout).",
    ["code"],
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "fieldline_llm_calls",
    "Calls to the model-assisted parser, by result: ok, timeout, error.",
    ["result"],
    registry=REGISTRY,
)
LLM_FALLBACKS = Counter(
    "fieldline_llm_fallbacks",
    "Messages the rules parser answered because the model did not (timeout, error, bad JSON).",
    registry=REGISTRY,
)

EMAIL_DRAFTS = Counter(
    "fieldline_email_drafts",
    "Email drafts written, by writer (model, template) and why a template wrote it: none (no "
    "model configured), model_off (circuit open), timeout, error, nonsense, invented (the "
    "model's draft had a price, date, address or link the lead's data does not), or ok.",
    ["writer", "reason"],
    registry=REGISTRY,
)

PLAN_OUTCOMES = ("planned", "confirmed", "executed", "failed", "expired")
DRAFT_REASONS = ("ok", "none", "model_off", "timeout", "error", "nonsense", "invented")
REMINDER_OUTCOMES = ("sent", "late", "caught_up")



def _prime() -> None:
    """Give the fixed label values a zero series, so rate() and alerts work from the start."""
    for outcome in PLAN_OUTCOMES:
        PLANS.labels(outcome=outcome)
    for outcome in REMINDER_OUTCOMES:
        REMINDERS.labels(outcome=outcome)
    for result in ("ok", "timeout", "error"):
        LLM_CALLS.labels(result=result)
    EMAIL_DRAFTS.labels(writer="model", reason="ok")


_prime()


# --- Helpers for the code that counts -------------------------------------------------------


def count_message(direction: str, kind: str) -> None:
    """One text or call in or out (see MESSAGES for the kinds)."""
    MESSAGES.labels(direction=direction, kind=kind).inc()


def count_plan(outcome: str) -> None:
    PLANS.labels(outcome=outcome).inc()


def count_reminders(sent: int = 0, late: int = 0, caught_up: int = 0) -> None:
    """The reminders one dispatch pass wrote."""
    for outcome, n in (("sent", sent), ("late", late), ("caught_up", caught_up)):
        if n:
            REMINDERS.labels(outcome=outcome).inc(n)


def count_send_outcome(status: str) -> None:
    """An outbound text's send ended (`webapp.outbound.delivery`); a retry's `queued` is not."""
    if status != "queued":
        MESSAGES.labels(direction="outbound", kind=status).inc()


def count_reminder_batch(single: list, folded: list) -> None:
    """One agent's reminders from `_remind_agent`: (appointment, lead) pairs, own or folded."""
    late = sum(1 for appointment, _ in [*single, *folded] if appointment.reminder_late)
    count_reminders(sent=len(single), late=late, caught_up=len(folded))


def count_twilio_error(code: str | int | None) -> None:
    TWILIO_ERRORS.labels(code=str(code or "unknown")[:32]).inc()


def count_llm_call(outcome: str) -> None:
    """From `LlmParser._log`'s outcome: ``error:deadline``/``error:*Timeout*`` → timeout,
    other ``error:*`` → error, anything else (the proposal's outcome) → ok."""
    if outcome.startswith("error:"):
        result = "timeout" if "deadline" in outcome or "Timeout" in outcome else "error"
    else:
        result = "ok"
    LLM_CALLS.labels(result=result).inc()


def count_llm_fallback() -> None:
    LLM_FALLBACKS.inc()


def count_email_draft(writer: str, reason: str) -> None:
    """One email draft: written by the model (reason ok) or the template (and why)."""
    EMAIL_DRAFTS.labels(writer=writer, reason=reason if reason in DRAFT_REASONS else "error").inc()


def timed_parser(parse: F, name: str = "rules") -> F:
    """Wrap a parser function so each call is timed and its answer's kind counted.

    A wrapper rather than lines inside the parser: the parser stays free of infrastructure.
    """

    @wraps(parse)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        plan = parse(*args, **kwargs)
        PARSE_LATENCY.labels(parser=name).observe(time.perf_counter() - start)
        PARSED.labels(parser=name, kind=str(getattr(plan, "kind", "unknown"))).inc()
        return plan

    return wrapper


@contextmanager
def observe_llm_call(timeout_types: tuple[type[BaseException], ...] = (TimeoutError,)
                     ) -> Iterator[None]:
    """Count one model call by result; exceptions propagate (the caller falls back)."""
    try:
        yield
    except timeout_types:
        LLM_CALLS.labels(result="timeout").inc()
        raise
    except Exception:
        LLM_CALLS.labels(result="error").inc()
        raise
    LLM_CALLS.labels(result="ok").inc()


# --- Queue depth, computed when scraped ------------------------------------------------------

# kombu's Redis transport keeps priority levels in sibling lists: "celery", "celery\x06\x163"...
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)


def queue_depths(broker_url: str, queues: tuple[str, ...] = ("celery",),
                 timeout: float = 0.5) -> dict[str, int] | None:
    """Tasks waiting in each Celery queue on a Redis broker (LLEN of the queue and its priority
    lists), read with a short timeout; None when the broker is not Redis or did not answer."""
    if not broker_url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        client = Redis.from_url(broker_url, socket_timeout=timeout,
                                socket_connect_timeout=timeout)
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.llen(queue)
                    for step in _PRIORITY_STEPS:
                        pipe.llen(f"{queue}{_PRIORITY_SEP}{step}")
                lengths = pipe.execute()
        finally:
            client.close()
    except (RedisError, OSError):
        return None
    per_queue = 1 + len(_PRIORITY_STEPS)
    return {queue: int(sum(lengths[i * per_queue:(i + 1) * per_queue]))
            for i, queue in enumerate(queues)}


def queue_depth(broker_url: str, queues: tuple[str, ...] = ("celery",),
                timeout: float = 0.5) -> int | None:
    """All tasks waiting in `queues` (see `queue_depths`); None when unknown."""
    depths = queue_depths(broker_url, queues, timeout)
    return None if depths is None else sum(depths.values())


class QueueDepthCollector(Collector):
    """LLEN of the Celery queues on a Redis broker, read at scrape time with a short timeout.

    A gauge written by the processes would go stale in multiprocess files; the broker itself
    is the truth. `fieldline_broker_up` says whether the figure could be read.
    """

    def __init__(self, broker_url: str, queues: tuple[str, ...] = ("celery",),
                 timeout: float = 0.5) -> None:
        self.broker_url = broker_url
        self.queues = queues
        self.timeout = timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.broker_url.startswith(("redis://", "rediss://", "unix://")):
            return
        depths = queue_depths(self.broker_url, self.queues, self.timeout)
        up = 0.0 if depths is None else 1.0
        if depths is not None:
            depth = GaugeMetricFamily("fieldline_queue_depth",
                                      "Tasks waiting in the Celery queue (Redis LLEN).",
                                      labels=["queue"])
            for queue, waiting in depths.items():
                depth.add_metric([queue], float(waiting))
            yield depth
        broker = GaugeMetricFamily("fieldline_broker_up",
                                   "1 if the broker answered the queue-depth read.")
        broker.add_metric([], up)
        yield broker


class _Combined:
    """Several collectors behind one `collect()`, for `generate_latest`."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def multiprocess_enabled() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


def render(broker_url: str | None = None) -> bytes:
    """The whole exposition: this process's (or all processes') metrics plus queue depth."""
    if multiprocess_enabled():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        source: Any = registry
    else:
        source = REGISTRY
    collectors = [source]
    if broker_url:
        collectors.append(QueueDepthCollector(broker_url))
    return generate_latest(_Combined(*collectors))


def child_exit(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live-gauge files (none today)."""
    if multiprocess_enabled():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
