"""Per-key rate limits: a fixed one-minute window counted in Redis (INCR), reported on every
answer as X-RateLimit-Limit / -Remaining / -Reset (seconds until the window resets).

Redis may be down or restart empty; the limit then lets requests through (the counts are only
a guard against floods, and the database is what protects the data)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW = 60
KEY = "fl:api-rate:{key_id}:{window}"


@dataclass(frozen=True)
class RateCount:
    limit: int
    used: int
    reset: int  # seconds until the window resets

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
                "X-RateLimit-Reset": str(self.reset)}


def count_request(redis: Redis, key_id: int, limit: int, now: float | None = None
                  ) -> RateCount:
    """Count one request of key `key_id` in the current window."""
    now = time.time() if now is None else now
    window = int(now // WINDOW)
    reset = max(1, int((window + 1) * WINDOW - now))
    try:
        pipe = redis.pipeline(transaction=False)
        name = KEY.format(key_id=key_id, window=window)
        pipe.incr(name)
        pipe.expire(name, WINDOW + 5)
        used = int(pipe.execute()[0])
    except RedisError:
        log.warning("API rate limit not counted: Redis unavailable", exc_info=True)
        used = 0
    return RateCount(limit, used, reset)
