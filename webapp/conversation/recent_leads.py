"""The leads named in an agent's previous message, so "update his status" can follow it."""

from __future__ import annotations

import json

from redis import Redis

RECENT_KEY = "fl:recent:{phone}"


class RecentLeads:
    def __init__(self, redis: Redis, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    def remember(self, phone: str, lead_ids: list[int]) -> None:
        if lead_ids:
            self.redis.set(RECENT_KEY.format(phone=phone), json.dumps(lead_ids), ex=self.ttl)

    def recall(self, phone: str) -> list[int]:
        raw = self.redis.get(RECENT_KEY.format(phone=phone))
        return [int(i) for i in json.loads(raw)] if raw else []
