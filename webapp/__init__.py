"""The Flask application factory.

Web handlers stay thin: verify, normalize, call the conversation, render TwiML. Everything the
app needs (database, Celery) hangs off `app.extensions`, so the workers share the same config.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from db.session import Database
from webapp.config import check_required, settings_from_env


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings_from_env(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_required(app.config)

    app.extensions["db"] = Database(app.config["DATABASE_URL"])

    from workers.flask_celery import celery_init_app

    celery_init_app(app)

    from webapp.cli import register_cli

    register_cli(app)
    return app


def get_db(app: Flask | None = None) -> Database:
    """The app's `Database` (the current app's when none is given)."""
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions["db"]
