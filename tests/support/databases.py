"""PostgreSQL schemas for tests: each run (or test) gets a schema of its own, dropped after."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Flask
from sqlalchemy import create_engine, select

from webapp.database import get_db


def schema_url(base_url: str, schema: str) -> str:
    """`base_url` with every connection's search_path set to `schema`."""
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"


class TemporarySchema:
    """Creates a uniquely named schema on enter, drops it (and all in it) on exit."""

    def __init__(self, base_url: str, prefix: str = "fl_test") -> None:
        self.base_url = base_url.split("?")[0]
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.url = schema_url(self.base_url, self.name)

    def __enter__(self) -> TemporarySchema:
        engine = create_engine(self.base_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{self.name}"')
        engine.dispose()
        return self

    def __exit__(self, *exc: object) -> None:
        engine = create_engine(self.base_url)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')
        engine.dispose()


def rows(app: Flask, model: type) -> list:
    """Every row of `model` in insertion order, read in a fresh session."""
    with get_db(app).session() as session:
        return list(session.scalars(select(model).order_by(model.id)))
