"""Twilio's I-Twilio-Idempotency-Token: the same webhook delivered again carries the same token.

The unique MessageSid in `messages` already makes a redelivery harmless; this catches it one
step earlier and also covers requests without a sid. Redis being down only skips this check.
"""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError

TOKEN_KEY = "fl:idem:{token}"
TOKEN_TTL = 24 * 3600


class IdempotencyTokens:
    def __init__(self, redis: Redis, ttl: int = TOKEN_TTL) -> None:
        self.redis = redis
        self.ttl = ttl

    def key(self, token: str | None) -> str | None:
        """The Redis key that marks `token` as seen (None without a token)."""
        return TOKEN_KEY.format(token=token[:128]) if token else None

    def first_time(self, token: str | None) -> bool:
        """True unless `token` was seen before (no token, or Redis down: True)."""
        if not token:
            return True
        try:
            return bool(self.redis.set(self.key(token), 1, nx=True, ex=self.ttl))
        except RedisError:
            return True
