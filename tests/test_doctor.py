"""`flask doctor`: one line per check, what to fix for each broken setting, exit status 1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flask import Flask

from tests.support.settings import TEST_SETTINGS
from webapp.app import create_app
from webapp.cli.doctor import check_database, check_public_url, doctor
from webapp.ops import health


def run(app: Flask, *args: str):
    return app.test_cli_runner().invoke(doctor, ["--timeout", "0.5", *args])


def lines_by_check(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        status, _, rest = line.partition("  ")
        name = rest.strip().split(" ", 1)[0]
        if status.strip() in ("ok", "FAIL"):
            found[name] = line
    return found


@pytest.fixture
def broken_settings(settings: dict) -> None:
    settings.update(
        TWILIO_AUTH_TOKEN="",
        TWILIO_PHONE_NUMBER="312-555-0000",
        PUBLIC_BASE_URL="http://localhost:5000",
        REDIS_URL="redis://127.0.0.1:1/0",
    )


def test_doctor_names_each_broken_setting(broken_settings: None, app: Flask) -> None:
    start = time.monotonic()
    result = run(app)
    assert time.monotonic() - start < 10
    assert result.exit_code == 1, result.output
    lines = lines_by_check(result.output)
    assert set(lines) == {"twilio", "public_url", "database", "redis", "worker", "beat"}
    assert lines["twilio"].startswith("FAIL")
    assert "TWILIO_AUTH_TOKEN" in lines["twilio"] and "E.164" in lines["twilio"]
    assert lines["public_url"].startswith("FAIL") and "https://" in lines["public_url"]
    assert lines["database"].startswith("ok")
    assert lines["redis"].startswith("FAIL") and "REDIS_URL" in lines["redis"]
    assert lines["worker"].startswith("FAIL") and "celery -A workers worker" in lines["worker"]
    assert lines["beat"].startswith("FAIL")
    assert "test-auth-token" not in result.output
    assert "5 check(s) failed" in result.output


@pytest.mark.integration
def test_doctor_passes_a_working_setup(app: Flask, celery_worker) -> None:
    health.record_beat_heartbeat(app.extensions["redis"])
    result = run(app, "--timeout", "3")
    assert result.exit_code == 0, result.output
    lines = lines_by_check(result.output)
    assert all(line.startswith("ok") for line in lines.values()), result.output
    assert len(lines) == 6
    assert result.output.rstrip().endswith("all checks passed")


def test_doctor_reports_stale_beat(app: Flask) -> None:
    health.record_beat_heartbeat(app.extensions["redis"], now=time.time() - 3600)
    lines = lines_by_check(run(app).output)
    assert lines["beat"].startswith("FAIL") and "celery -A workers beat" in lines["beat"]
    assert lines["redis"].startswith("ok")


def test_doctor_reports_an_unmigrated_database(tmp_path: Path) -> None:
    app = create_app({**TEST_SETTINGS,
                      "DATABASE_URL": "sqlite:///" + str(tmp_path / "empty.sqlite3")})
    result = check_database(app, 0.5)
    assert not result.ok and "flask --app wsgi db upgrade" in result.detail
    app.extensions["db"].dispose()


@pytest.mark.parametrize(
    ("url", "ok", "hint"),
    [
        ("https://crm.example.com", True, ""),
        ("https://crm.example.com/fieldline", True, ""),
        ("", False, "set PUBLIC_BASE_URL"),
        ("http://crm.example.com", False, "https://"),
        ("https://localhost:5000", False, "not reachable"),
        ("https://127.0.0.1", False, "not reachable"),
        ("https://10.0.0.5", False, "not reachable"),
        ("https://crm.example.com/?x=1", False, "no user, ? or #"),
        ("https://crm.example.com:notaport", False, "not a URL"),
    ],
)
def test_public_url_forms(url: str, ok: bool, hint: str) -> None:
    app = Flask(__name__)
    app.config["PUBLIC_BASE_URL"] = url
    result = check_public_url(app, 0.5)
    assert result.ok is ok, result
    assert hint in result.detail
