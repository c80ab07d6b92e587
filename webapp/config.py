"""Settings, read once from the environment (and an optional `.env` file).

Every setting is documented in the README's "Configuration" table; keep the two in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dotenv import load_dotenv

ENVIRONMENTS = ("development", "testing", "production")

# Settings a real deployment cannot run without; checked at start-up outside development/tests.
REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_PHONE_NUMBER",
    "PUBLIC_BASE_URL",
)


class ConfigError(RuntimeError):
    """The configuration cannot work; the message names what to set."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def settings_from_env(instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables.

    `.env` is loaded first but never overrides variables already set, so a deployment's real
    environment wins over a developer's file.
    """
    load_dotenv(override=False)
    env = os.environ.get("APP_ENV", "development").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    sqlite_default = "sqlite:///" + str(Path(instance_path) / "fieldline.sqlite3")
    return {
        "APP_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "dev-only-not-secret"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or sqlite_default,
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://localhost:6379/0",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or None,
        "TWILIO_ACCOUNT_SID": os.environ.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": os.environ.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_PHONE_NUMBER": os.environ.get("TWILIO_PHONE_NUMBER", ""),
        "TWILIO_API_BASE_URL": os.environ.get("TWILIO_API_BASE_URL") or "",  # "": Twilio's own
        "TWILIO_TIMEOUT": _float("TWILIO_TIMEOUT", 5.0),
        "TWILIO_VALIDATE_SIGNATURES": _bool(os.environ.get("TWILIO_VALIDATE_SIGNATURES"), True),
        "PUBLIC_BASE_URL": (os.environ.get("PUBLIC_BASE_URL") or "").rstrip("/"),
        "TRUST_PROXY_HEADERS": _bool(os.environ.get("TRUST_PROXY_HEADERS")),
        "SMS_SENDER": os.environ.get("SMS_SENDER") or "",
        "OPENAI_API_KEY": os.environ.get("OPENAI_API_KEY", ""),
        "OPENAI_BASE_URL": os.environ.get("OPENAI_BASE_URL") or None,
        "OPENAI_MODEL": os.environ.get("OPENAI_MODEL") or "gpt-4o-mini",
        "OPENAI_TIMEOUT": _float("OPENAI_TIMEOUT", 4.0),
        "PARSER": os.environ.get("PARSER") or "",
        "PENDING_PLAN_TTL": _int("PENDING_PLAN_TTL", 15 * 60),
        "CONTEXT_TTL": _int("CONTEXT_TTL", 30 * 60),
        "RATE_LIMIT_PER_MINUTE": _int("RATE_LIMIT_PER_MINUTE", 20),
        "STRANGER_REPLIES_PER_MINUTE": _int("STRANGER_REPLIES_PER_MINUTE", 10),
        "REDIS_TIMEOUT": _float("REDIS_TIMEOUT", 1.0),
        "REMINDER_INTERVAL_SECONDS": _int("REMINDER_INTERVAL_SECONDS", 30),
        "SWEEP_INTERVAL_SECONDS": _int("SWEEP_INTERVAL_SECONDS", 30),
        "QUIET_HOURS_START": os.environ.get("QUIET_HOURS_START") or "21:00",
        "QUIET_HOURS_END": os.environ.get("QUIET_HOURS_END") or "08:00",
        "MAX_REMINDER_LATENESS": _int("MAX_REMINDER_LATENESS", 12 * 3600),
        "AGENDA_HOUR": _int("AGENDA_HOUR", 8),
        "RECOVERY_GRACE_SECONDS": _int("RECOVERY_GRACE_SECONDS", 60),
        "MAX_PLAN_ATTEMPTS": _int("MAX_PLAN_ATTEMPTS", 5),
        "SWEEP_MAX_QUEUE_DEPTH": _int("SWEEP_MAX_QUEUE_DEPTH", 100),
        "VOICE_MIN_CONFIDENCE": _float("VOICE_MIN_CONFIDENCE", 0.5),
        "VOICE_RESULT_WAIT": _float("VOICE_RESULT_WAIT", 4.0),
        "VOICE_MAX_TURNS": _int("VOICE_MAX_TURNS", 20),
        "SIMULATOR_ENABLED": _bool(os.environ.get("SIMULATOR_ENABLED"), env == "development"),
        "DEFAULT_COUNTRY": os.environ.get("DEFAULT_COUNTRY") or "US",
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN") or "",
        "READY_TIMEOUT": _float("READY_TIMEOUT", 1.0),
        "API_RATE_LIMIT_PER_MINUTE": _int("API_RATE_LIMIT_PER_MINUTE", 600),
        "WEBHOOK_ALLOW_PRIVATE_NETWORKS": _bool(os.environ.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS")),
        "WEBHOOK_TIMEOUT": _float("WEBHOOK_TIMEOUT", 5.0),
        "WEBHOOK_RETRY_BASE_SECONDS": _float("WEBHOOK_RETRY_BASE_SECONDS", 5.0),
        "WEBHOOK_SWEEP_INTERVAL_SECONDS": _int("WEBHOOK_SWEEP_INTERVAL_SECONDS", 5),
        "LOG_FORMAT": (os.environ.get("LOG_FORMAT") or "").strip().lower(),
        "LOG_LEVEL": (os.environ.get("LOG_LEVEL") or "INFO").strip().upper(),
    }


def check_required(config: dict[str, Any]) -> None:
    """Refuse to start a production process that lacks what it needs, naming every gap at once."""
    if config["APP_ENV"] != "production":
        return
    missing = [name for name in REQUIRED_IN_PRODUCTION if not config.get(name)]
    if missing:
        raise ConfigError("Missing required settings for production: " + ", ".join(missing))
    if not config["TWILIO_VALIDATE_SIGNATURES"]:
        raise ConfigError("TWILIO_VALIDATE_SIGNATURES may only be turned off in development")
