"""Start-up refuses a production configuration that cannot work."""

from __future__ import annotations

import pytest

from webapp.app import create_app
from webapp.config import ConfigError


def test_production_without_twilio_settings_refuses_to_start_naming_them(monkeypatch) -> None:
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_PHONE_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://crm.example.com")
    with pytest.raises(ConfigError) as excinfo:
        create_app()
    assert "TWILIO_AUTH_TOKEN" in str(excinfo.value)
    assert "TWILIO_ACCOUNT_SID" in str(excinfo.value)


def test_production_cannot_switch_off_signature_checks(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    for name, value in {
        "DATABASE_URL": "sqlite://",
        "TWILIO_AUTH_TOKEN": "x",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_PHONE_NUMBER": "+13125550000",
        "PUBLIC_BASE_URL": "https://crm.example.com",
        "TWILIO_VALIDATE_SIGNATURES": "false",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="TWILIO_VALIDATE_SIGNATURES"):
        create_app()


def test_development_starts_without_twilio_credentials(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    assert create_app({"DATABASE_URL": "sqlite://"}).config["APP_ENV"] == "development"


def test_unknown_app_env_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("APP_ENV", "staging-ish")
    with pytest.raises(ConfigError, match="APP_ENV"):
        create_app()
