"""/metrics: token required, Prometheus text format, counts what happened, adds up processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from webapp.ops import counters

TOKEN = "scrape-token-for-tests"

EXPECTED_FAMILIES = {
    "fieldline_webhook_duration_seconds",
    "fieldline_http_responses",
    "fieldline_messages",
    "fieldline_plans",
    "fieldline_parser_messages",
    "fieldline_parser_duration_seconds",
    "fieldline_reminders",
    "fieldline_twilio_errors",
    "fieldline_llm_calls",
    "fieldline_llm_fallbacks",
    "fieldline_queue_depth",
    "fieldline_broker_up",
}


@pytest.fixture
def metrics_token(settings: dict) -> str:
    settings["METRICS_TOKEN"] = TOKEN
    return TOKEN


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """sample name + sorted labels → value, from a parsed /metrics answer."""
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def families(app: Flask) -> set[str]:
    response = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    return {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}


def test_metrics_hidden_without_a_token_setting(app: Flask, monkeypatch) -> None:
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    assert app.test_client().get("/metrics").status_code == 404


def test_metrics_require_the_bearer_token(metrics_token: str, app: Flask) -> None:
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    basic = client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401


def test_metrics_parse_and_name_every_family(metrics_token: str, app: Flask) -> None:
    assert EXPECTED_FAMILIES <= families(app)
    samples = scrape(app)
    for outcome in counters.PLAN_OUTCOMES:  # fixed labels exist from the start, at zero or more
        assert ("fieldline_plans_total", (("outcome", outcome),)) in samples
    assert samples[("fieldline_broker_up", ())] == 1.0


def test_a_webhook_is_timed_by_its_route(metrics_token: str, app: Flask, phone) -> None:
    key = ("fieldline_webhook_duration_seconds_count", (("endpoint", "/sms"), ("method", "POST")))
    before = scrape(app).get(key, 0.0)
    assert phone.text("What's John Doe's status?")
    after = scrape(app)
    assert after[key] == before + 1
    assert after[("fieldline_http_responses_total", (("endpoint", "/sms"), ("status", "200")))]


def test_counts_a_message_sent(metrics_token: str, app: Flask) -> None:
    key = ("fieldline_messages_total", (("direction", "outbound"), ("kind", "sent")))
    before = scrape(app).get(key, 0.0)
    counters.count_message("outbound", "sent")  # as deliver() counts it
    assert scrape(app)[key] == before + 1


def test_queue_depth_is_read_from_the_broker(metrics_token: str, app: Flask) -> None:
    redis = app.extensions["redis"]
    redis.delete("celery")
    assert scrape(app)[("fieldline_queue_depth", (("queue", "celery"),))] == 0.0
    redis.rpush("celery", "a", "b")
    redis.rpush("celery\x06\x163", "c")  # a priority-3 task sits in a sibling list
    try:
        assert scrape(app)[("fieldline_queue_depth", (("queue", "celery"),))] == 3.0
    finally:
        redis.delete("celery", "celery\x06\x163")


def test_queue_depth_missing_when_broker_down(metrics_token: str, settings: dict) -> None:
    samples = dict(
        (s.name, s.value)
        for f in text_string_to_metric_families(
            counters.render("redis://127.0.0.1:1/0").decode()
        )
        for s in f.samples
    )
    assert samples["fieldline_broker_up"] == 0.0
    assert "fieldline_queue_depth" not in samples


def test_helpers_count_plans_reminders_errors_parser_llm() -> None:
    def value(metric, **labels) -> float:
        return metric.labels(**labels)._value.get()

    plans = value(counters.PLANS, outcome="executed")
    counters.count_plan("executed")
    assert value(counters.PLANS, outcome="executed") == plans + 1

    late = value(counters.REMINDERS, outcome="late")
    counters.count_reminders(sent=2, late=1, caught_up=0)
    assert value(counters.REMINDERS, outcome="late") == late + 1

    counters.count_twilio_error(21610)
    assert value(counters.TWILIO_ERRORS, code="21610") >= 1

    class Plan:
        kind = "query"

    parse = counters.timed_parser(lambda text: Plan(), name="rules")
    queries = value(counters.PARSED, parser="rules", kind="query")
    parse("who's negotiating?")
    assert value(counters.PARSED, parser="rules", kind="query") == queries + 1

    sent = value(counters.MESSAGES, direction="outbound", kind="sent")
    queued = value(counters.MESSAGES, direction="outbound", kind="queued")
    counters.count_send_outcome("sent")
    counters.count_send_outcome("queued")  # a retry going back to the queue is no outcome
    assert value(counters.MESSAGES, direction="outbound", kind="sent") == sent + 1
    assert value(counters.MESSAGES, direction="outbound", kind="queued") == queued

    class Appointment:
        def __init__(self, late: bool) -> None:
            self.reminder_late = late

    caught = value(counters.REMINDERS, outcome="caught_up")
    late = value(counters.REMINDERS, outcome="late")
    counters.count_reminder_batch([(Appointment(False), None)],
                                 [(Appointment(True), None), (Appointment(True), None)])
    assert value(counters.REMINDERS, outcome="caught_up") == caught + 2
    assert value(counters.REMINDERS, outcome="late") == late + 2

    calls = {r: value(counters.LLM_CALLS, result=r) for r in ("ok", "timeout", "error")}
    for outcome in ("plan", "error:deadline", "error:APITimeoutError", "error:RateLimitError"):
        counters.count_llm_call(outcome)
    assert value(counters.LLM_CALLS, result="ok") == calls["ok"] + 1
    assert value(counters.LLM_CALLS, result="timeout") == calls["timeout"] + 2
    assert value(counters.LLM_CALLS, result="error") == calls["error"] + 1

    timeouts = value(counters.LLM_CALLS, result="timeout")
    with pytest.raises(TimeoutError), counters.observe_llm_call():
        raise TimeoutError
    assert value(counters.LLM_CALLS, result="timeout") == timeouts + 1


MULTIPROCESS_CHILD = """
import sys
from webapp.ops import counters
counters.count_message("inbound", "sms")
counters.WEBHOOK_LATENCY.labels(endpoint="/sms", method="POST").observe(0.2)
"""

MULTIPROCESS_SCRAPE = """
from webapp.ops import counters
print(counters.render().decode())
"""


def test_multiprocess_mode_adds_up_processes(tmp_path: Path) -> None:
    """Two processes count into the shared directory; a third one's scrape sees both."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    root = Path(__file__).resolve().parents[1]
    for _ in range(2):
        subprocess.run([sys.executable, "-c", MULTIPROCESS_CHILD], env=env, cwd=root,
                       check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", MULTIPROCESS_SCRAPE], env=env, cwd=root,
                         check=True, timeout=60, capture_output=True, text=True).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(out)
        for s in f.samples
    }
    assert samples[("fieldline_messages_total", (("direction", "inbound"), ("kind", "sms")))] == 2
    assert samples[("fieldline_webhook_duration_seconds_count",
                    (("endpoint", "/sms"), ("method", "POST")))] == 2


@pytest.mark.integration
def test_a_conversation_shows_up_in_the_figures(metrics_token: str, app: Flask, celery_worker,
                                                phone) -> None:
    """Text, plan, YES, the worker runs it and sends the result: each step is counted."""
    from tests.support.waiting import wait_for

    sent = ("fieldline_messages_total", (("direction", "outbound"), ("kind", "simulated")))
    executed = ("fieldline_plans_total", (("outcome", "executed"),))
    before = scrape(app)
    assert "Reply YES" in phone.text("Mark Sarah Smith as negotiating")
    phone.text("YES")
    wait_for(lambda: scrape(app).get(sent, 0.0) >= before.get(sent, 0.0) + 1)
    after = scrape(app)
    assert after[executed] == before[executed] + 1
    assert after[("fieldline_plans_total", (("outcome", "planned"),))] >= 1
    assert after[("fieldline_messages_total", (("direction", "inbound"), ("kind", "sms")))] >= 2
