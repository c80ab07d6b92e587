"""Which parser answers a message: PARSER=rules|llm|auto, and the circuit breaker around the model.

- `rules`: the deterministic rule parser only (the default without OPENAI_API_KEY; the openai
  SDK is not even imported then).
- `auto` (the default with a key): the rules first, always — they answer in milliseconds and
  cost nothing. Only a message they find `unknown` goes to the model. `unknown_lead` does not:
  the rules already found a name that is none of the agent's leads, and the model's proposal
  would have to pass the same resolver, so asking costs latency and money for the same answer.
  Whole-message intents (YES/NO/HELP/UNDO, carrier keywords) and over-long input never go.
- `llm`: the model reads every message the rules read as content (plan, query, clarify,
  unknown_lead, unknown); YES/NO/HELP/UNDO stay with the rules, so the model can never confirm
  a plan. The rules' answer is computed first anyway: it is the fallback.

Whatever the mode, the model's answer is used only if `llm_parser` validates it; on a rejection,
an error, a timeout or an open breaker the rules' answer stands. Nothing here raises for a model
problem: the worst case is the rules' answer after OPENAI_TIMEOUT seconds.

The circuit breaker is in-process (per gunicorn worker / Celery process): after FAILURES model
errors within WINDOW seconds the model is skipped for COOLDOWN seconds, then one trial call
decides (success closes it, failure reopens it). Per-process is enough: its job is to stop each
process from paying the timeout on every message while the model is down, and a process finds
out within FAILURES messages. A shared (Redis) breaker would add a Redis round-trip per message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from webapp.config import ConfigError
from webapp.ops import counters
from webapp.understanding.intents import detect_intent
from webapp.understanding.llm_parser import ModelError
from webapp.understanding.parser import MAX_CHARS, AgentContext, Parser, parse_message
from webapp.understanding.plan import Plan

log = logging.getLogger(__name__)

__all__ = [
    "PARSERS",
    "CircuitBreaker",
    "ModelAssistedParser",
    "Parser",
    "make_client",
    "make_parser",
    "parser_mode",
]

PARSERS: tuple[str, ...] = ("rules", "llm", "auto")
DEFAULT_TIMEOUT = 4.0
# The SMS/voice webhook waits for the model: Twilio gives up after 15 s, and the rest of the
# request (database, Redis) needs headroom.
MAX_TIMEOUT = 10.0
# auto: the rules' kinds that are worth a model call.
AUTO_ESCALATE: frozenset[str] = frozenset({"unknown"})
# llm: the rules' kinds the model may read instead (never confirm/cancel/help/undo).
LLM_READS: frozenset[str] = frozenset({"plan", "query", "clarify", "unknown_lead", "unknown"})


class CircuitBreaker:
    """Skip the model after repeated failures, so a dead model does not cost every message.

    closed -> (FAILURES failures within WINDOW s) -> open for COOLDOWN s -> half-open: one
    trial call is let through; its success closes the breaker, its failure opens it again.
    Thread-safe; `clock` is injectable for tests.
    """

    def __init__(self, failures: int = 3, window: float = 60.0, cooldown: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failures = failures
        self.window = window
        self.cooldown = cooldown
        self.clock = clock
        self._lock = threading.Lock()
        self._recent: deque[float] = deque()
        self._open_until: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._open_until is None:
                return "closed"
            return "open" if self.clock() < self._open_until else "half_open"

    def allow(self) -> bool:
        """Whether a call may go to the model now (a half-open breaker lets one through)."""
        with self._lock:
            if self._open_until is None:
                return True
            if self.clock() < self._open_until or self._trial_running:
                return False
            self._trial_running = True
            return True

    def record_success(self) -> None:
        with self._lock:
            if self._open_until is not None:
                log.info("model circuit closed")
            self._recent.clear()
            self._open_until = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            now = self.clock()
            if self._open_until is not None:  # the half-open trial failed
                self._open_until = now + self.cooldown
                self._trial_running = False
                log.warning("model circuit reopened for %.0f s", self.cooldown)
                return
            self._recent.append(now)
            while self._recent and self._recent[0] <= now - self.window:
                self._recent.popleft()
            if len(self._recent) >= self.failures:
                self._open_until = now + self.cooldown
                self._recent.clear()
                log.warning("model circuit opened for %.0f s after %d failures",
                            self.cooldown, self.failures)


class ModelAssistedParser:
    """A `Parser` (callable like `parse_message`) that may ask the model; see the module doc."""

    def __init__(self, mode: str, model: Any, breaker: CircuitBreaker | None = None,
                 rules: Parser = parse_message) -> None:
        if mode not in ("llm", "auto"):
            raise ValueError(f"mode must be llm or auto, got {mode!r}")
        self.mode = mode
        self.model = model  # an llm_parser.LlmParser (anything with .propose)
        self.breaker = breaker or CircuitBreaker()
        self.rules = rules

    def __call__(self, text: str, ctx: AgentContext, now: datetime) -> Plan:
        ruled = self.rules(text, ctx, now)
        if not self._worth_asking(text, ruled):
            return ruled
        if not self.breaker.allow():
            log.info("model parse skipped: circuit open")
            counters.count_llm_fallback()
            return ruled
        try:
            proposal = self.model.propose(text, ctx, now)
        except ModelError as exc:  # expected: down, slow, rate-limited, malformed
            self.breaker.record_failure()
            log.warning("model parse failed (%s); rule parser answers", exc)
            counters.count_llm_fallback()
            return ruled
        except Exception:  # a bug in the model path must not cost the agent an answer
            self.breaker.record_failure()
            log.exception("model parse crashed; rule parser answers")
            counters.count_llm_fallback()
            return ruled
        self.breaker.record_success()
        if proposal.plan is None:
            return ruled
        return proposal.plan

    def _worth_asking(self, text: str, ruled: Plan) -> bool:
        if len(text or "") > MAX_CHARS or not (text or "").strip():
            return False
        if detect_intent(text) is not None:
            return False
        kinds = AUTO_ESCALATE if self.mode == "auto" else LLM_READS
        return ruled.kind in kinds


def parser_mode(config: Mapping[str, Any]) -> str:
    """PARSER as configured: rules / llm / auto; empty means auto with a key, else rules.

    PARSER=llm without a key is a configuration error (said at start-up, not per message);
    PARSER=auto without a key is just the rules, so a dev box without a key works unchanged.
    """
    key = (config.get("OPENAI_API_KEY") or "").strip()
    mode = (config.get("PARSER") or "").strip().lower() or ("auto" if key else "rules")
    if mode not in PARSERS:
        raise ConfigError(f"PARSER must be one of {', '.join(PARSERS)}, got {mode!r}")
    if mode == "llm" and not key:
        raise ConfigError("PARSER=llm needs OPENAI_API_KEY (any value for a local server)")
    if mode == "auto" and not key:
        return "rules"
    timeout = float(config.get("OPENAI_TIMEOUT") or DEFAULT_TIMEOUT)
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ConfigError(f"OPENAI_TIMEOUT must be over 0 and at most {MAX_TIMEOUT:g} seconds "
                          f"(Twilio waits 15 s for the webhook), got {timeout:g}")
    return mode


def make_client(config: Mapping[str, Any]) -> Any:
    """The OpenAI client: bounded by OPENAI_TIMEOUT, and no retries (see llm_parser)."""
    from openai import OpenAI

    return OpenAI(
        api_key=config["OPENAI_API_KEY"],
        base_url=config.get("OPENAI_BASE_URL") or None,
        timeout=float(config.get("OPENAI_TIMEOUT") or DEFAULT_TIMEOUT),
        max_retries=0,
    )


def make_parser(config: Mapping[str, Any], mode: str | None = None) -> Parser:
    """The parser the app should use for `config` (a Flask config or any mapping).

    `mode` overrides PARSER (the CLI's --parser); it is checked the same way.
    """
    if mode is not None:
        config = {**config, "PARSER": mode}
    chosen = parser_mode(config)
    if chosen == "rules":
        return parse_message
    from webapp.understanding.llm_parser import LlmParser

    model = LlmParser(make_client(config), config.get("OPENAI_MODEL") or "gpt-4o-mini",
                      float(config.get("OPENAI_TIMEOUT") or DEFAULT_TIMEOUT))
    log.info("parser: %s with model %s", chosen, model.model)
    return ModelAssistedParser(chosen, model)
