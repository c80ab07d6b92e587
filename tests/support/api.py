"""Calling the integration API as an integration would: JSON, a Bearer key, real routes."""

from __future__ import annotations

from typing import Any

from flask import Flask

from webapp.database import get_db
from webapp.integrations.api_keys import create_key


def new_key(app: Flask, agent_id: int, name: str = "test") -> str:
    """A fresh API key for the agent (the key itself, as `api-keys create` prints it)."""
    with get_db(app).session() as session:
        _, raw = create_key(session, agent_id, name)
        session.commit()
    return raw


class ApiClient:
    """`app.test_client()` that sends the key and JSON bodies; returns Flask responses."""

    def __init__(self, app: Flask, key: str | None) -> None:
        self.app = app
        self.client = app.test_client()
        self.key = key

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **params: Any):
        return self.client.get("/api/v1" + path, query_string=params, headers=self.headers())

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None):
        return self.client.post("/api/v1" + path, json=body, headers=self.headers(headers))

    def patch(self, path: str, body: Any):
        return self.client.patch("/api/v1" + path, json=body, headers=self.headers())

    def delete(self, path: str):
        return self.client.delete("/api/v1" + path, headers=self.headers())
