"""A per-phone flood guard in Redis: a fixed one-minute window counted with INCR."""

from __future__ import annotations

import time

from redis import Redis

RATE_KEY = "fl:rate:{phone}:{window}"


class RateLimiter:
    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def hit(self, phone: str) -> int:
        """Count one message; return how many this phone sent in the current minute."""
        key = RATE_KEY.format(phone=phone, window=int(time.time() // 60))
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
        return int(count)

    def allowed(self, count: int) -> bool:
        return count <= self.per_minute

    def first_refusal(self, count: int) -> bool:
        """Only the first message over the limit gets a reply, so a flood gets one answer."""
        return count == self.per_minute + 1
