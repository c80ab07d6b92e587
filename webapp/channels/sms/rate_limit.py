"""A per-phone flood guard in Redis: a fixed one-minute window counted with INCR."""

from __future__ import annotations

import time
from typing import Any

from redis import Redis

RATE_KEY = "fl:rate:{phone}:{window}"

# The webhook's first Redis step in one round trip: claim the idempotency token (SET NX EX) and,
# only when it was not seen before, count the message. -1: a redelivery (nothing counted).
_CLAIM_AND_COUNT = """
if KEYS[2] ~= '' and not redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[2]) then
  return -1
end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return count
"""


class RateLimiter:
    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def queue_hit_unless_seen(self, pipe: Any, phone: str, token_key: str | None,
                              token_ttl: int) -> None:
        """Queue one message's count on a pipeline of this client, after claiming `token_key`
        (an idempotency token's key) in the same step; `decode_hit` its result: how many this
        phone sent in the current minute, or None, and nothing counted, when the token was
        already claimed (a redelivery).

        EVAL rather than a registered script's EVALSHA: a pipeline holding a script checks
        SCRIPT EXISTS first, a round trip of its own; Redis caches the compiled script either way.
        """
        key = RATE_KEY.format(phone=phone, window=int(time.time() // 60))
        pipe.eval(_CLAIM_AND_COUNT, 2, key, token_key or "", 120, token_ttl)

    @staticmethod
    def decode_hit(raw: int | bytes | str) -> int | None:
        return None if int(raw) < 0 else int(raw)

    def allowed(self, count: int) -> bool:
        return count <= self.per_minute

    def first_refusal(self, count: int) -> bool:
        """Only the first message over the limit gets a reply, so a flood gets one answer."""
        return count == self.per_minute + 1
