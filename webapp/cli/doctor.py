"""`flask --app wsgi doctor`: is this deployment set up to work? One line per check, with the fix.

Start-up (`check_required`) only refuses a production process that lacks settings; doctor goes
further and asks the outside world: is the database at the newest migration, does Redis answer,
is a worker listening, has beat run lately, does PUBLIC_BASE_URL have the form Twilio needs.
The exit status is 1 if any check fails, so a deploy script can stop on it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from webapp.ops.health import read_beat_heartbeat

_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@dataclass
class Result:
    name: str
    ok: bool
    detail: str  # what was found; for a failure, what to do about it


Check = Callable[[Flask, float], Result]


def check_twilio(app: Flask, _timeout: float) -> Result:
    config = app.config
    problems = []
    sid = config.get("TWILIO_ACCOUNT_SID") or ""
    if not sid:
        problems.append("set TWILIO_ACCOUNT_SID (Console → Account info, starts with AC)")
    elif not _SID.fullmatch(sid):
        problems.append("TWILIO_ACCOUNT_SID should be AC followed by 32 hex characters")
    if not config.get("TWILIO_AUTH_TOKEN"):
        problems.append("set TWILIO_AUTH_TOKEN (it signs every webhook and every send)")
    number = config.get("TWILIO_PHONE_NUMBER") or ""
    if not number:
        problems.append("set TWILIO_PHONE_NUMBER to the assistant's number in E.164 (+1...)")
    elif not _E164.fullmatch(number):
        problems.append(f"TWILIO_PHONE_NUMBER must be E.164 like +13125550000, got {number!r}")
    if problems:
        return Result("twilio", False, "; ".join(problems))
    return Result("twilio", True, f"account {sid[:6]}…, number ***{number[-4:]}")


def check_public_url(app: Flask, _timeout: float) -> Result:
    raw = app.config.get("PUBLIC_BASE_URL") or ""
    if not raw:
        return Result("public_url", False,
                      "set PUBLIC_BASE_URL to the https address Twilio calls, "
                      "e.g. https://crm.example.com")
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return Result("public_url", False, f"PUBLIC_BASE_URL is not a URL: {raw!r}")
    if parts.scheme != "https":
        return Result("public_url", False,
                      f"PUBLIC_BASE_URL must start with https:// (Twilio signs the https URL "
                      f"it calls), got {parts.scheme or 'no'} scheme")
    if parts.query or parts.fragment or parts.username or parts.password:
        return Result("public_url", False,
                      "PUBLIC_BASE_URL must be scheme://host[/prefix] only: no user, ? or #")
    if not host or not _public_host(host):
        return Result("public_url", False,
                      f"PUBLIC_BASE_URL host {host or '(none)'!r} is not reachable by Twilio: "
                      "use the public DNS name of your proxy or load balancer")
    return Result("public_url", True, raw)


def _public_host(host: str) -> bool:
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ip_address(host)
    except ValueError:
        return "." in host  # a DNS name: needs a dot to be public
    return address.is_global


def check_database(app: Flask, _timeout: float) -> Result:
    from db import migrate

    url = app.config["DATABASE_URL"]
    try:
        have = migrate.current_revision(app.extensions["db"].engine)
    except Exception as exc:
        return Result("database", False,
                      f"cannot connect ({type(exc).__name__}): check DATABASE_URL and that the "
                      "server is running")
    head = migrate.head_revision(url)
    if have != head:
        return Result("database", False,
                      f"at revision {have or 'none'}, newest is {head}: "
                      "run `flask --app wsgi db upgrade`")
    return Result("database", True, f"migrated to head ({head})")


def _redis(app: Flask, timeout: float) -> Any:
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"], socket_timeout=timeout,
                          socket_connect_timeout=timeout)


def check_redis(app: Flask, timeout: float) -> Result:
    client = _redis(app, timeout)
    try:
        client.ping()
    except Exception as exc:
        return Result("redis", False,
                      f"no answer ({type(exc).__name__}): start Redis or fix REDIS_URL")
    finally:
        client.close()
    return Result("redis", True, "answers PING")


def check_worker(app: Flask, timeout: float) -> Result:
    celery_app = app.extensions["celery"]
    try:
        replies = celery_app.control.ping(timeout=timeout, limit=1)
    except Exception as exc:
        return Result("worker", False,
                      f"broker unreachable ({type(exc).__name__}): fix CELERY_BROKER_URL/"
                      "REDIS_URL, then start `celery -A workers worker`")
    if not replies:
        return Result("worker", False,
                      f"no worker answered ping within {timeout:g} s: "
                      "start `celery -A workers worker` against the same broker")
    names = ", ".join(sorted(name for reply in replies for name in reply))
    return Result("worker", True, f"answered: {names}")


def check_beat(app: Flask, timeout: float) -> Result:
    interval = max(float(app.config.get("REMINDER_INTERVAL_SECONDS") or 30), 1.0)
    allowed = max(3 * interval, 120.0)  # a few missed runs before alarm
    client = _redis(app, timeout)
    try:
        last = read_beat_heartbeat(client)
    except Exception as exc:
        return Result("beat", False, f"cannot read the heartbeat ({type(exc).__name__}): "
                      "Redis must answer first")
    finally:
        client.close()
    if last is None:
        return Result("beat", False,
                      "beat has never run (no heartbeat): start exactly one "
                      "`celery -A workers beat`, and a worker to run its tasks")
    age = (datetime.now(UTC) - last).total_seconds()
    if age > allowed:
        return Result("beat", False,
                      f"last run {age:.0f} s ago (expected every {interval:g} s): is "
                      "`celery -A workers beat` running, and a worker?")
    return Result("beat", True, f"last run {age:.0f} s ago")


CHECKS: tuple[Check, ...] = (
    check_twilio, check_public_url, check_database, check_redis, check_worker, check_beat,
)


def run_doctor(app: Flask, timeout: float = 2.0) -> list[Result]:
    """Every check in order; a check that crashes is reported as failed, never raised."""
    results = []
    for check in CHECKS:
        start = time.monotonic()
        try:
            result = check(app, timeout)
        except Exception as exc:
            result = Result(check.__name__.removeprefix("check_"), False,
                            f"check crashed: {type(exc).__name__}: {exc}")
        result.detail += "" if time.monotonic() - start < 5 * timeout else " (slow)"
        results.append(result)
    return results


@click.command("doctor")
@click.option("--timeout", default=2.0, show_default=True,
              help="Seconds to wait for Redis, the broker and a worker's ping.")
@with_appcontext
def doctor(timeout: float) -> None:
    """Check the settings and services a real deployment needs; say what to fix."""
    app = current_app._get_current_object()
    results = run_doctor(app, timeout)
    for result in results:
        click.echo(f"{'ok  ' if result.ok else 'FAIL'}  {result.name:<10}  {result.detail}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        click.echo(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        raise SystemExit(1)
    click.echo("all checks passed")
