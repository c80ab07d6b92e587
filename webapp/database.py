"""The app's `Database`, reached from request handlers, CLI commands and Celery tasks.

Kept apart from the app factory (as Flask's tutorial keeps `get_db` in `flaskr/db.py`) so that
the modules that need the database import this small module, not the factory and everything
the factory wires together.
"""

from __future__ import annotations

from flask import Flask, current_app

from db.session import Database


def get_db(app: Flask | None = None) -> Database:
    """The app's `Database` (the current app's when none is given)."""
    return (app or current_app).extensions["db"]
