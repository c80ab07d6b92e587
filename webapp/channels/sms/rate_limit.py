"""Flood guards in Redis: per agent phone, a fixed one-minute window counted with INCR; for
numbers that are not agents', one reply a day per number and a budget per minute overall."""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

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


# --- numbers that are not agents' ------------------------------------------------------------

STRANGER_KEY = "fl:stranger:{phone}"  # set for a day once a number was answered
STRANGERS_KEY = "fl:strangers:{window}"  # answers to unknown numbers in this minute, overall
STRANGER_QUIET_SECONDS = 24 * 3600

# Answer a number at most once a day, and unknown numbers at most ARGV[1] times a minute in all.
# A number already answered today does not use up the overall budget.
_STRANGER_MAY_REPLY = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local n = redis.call('INCR', KEYS[2])
if n == 1 then
  redis.call('EXPIRE', KEYS[2], 120)
end
if n > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[1], 1, 'EX', ARGV[2])
return 1
"""


class StrangerLimiter:
    """Texts from numbers that are not agents': each reply is a billed SMS and each stored row
    a cost, so a flood (one number texting 50 times, or 30 numbers) must get almost nothing.
    A number gets the "only for registered agents" reply at most once a day, and all unknown
    numbers together at most `per_minute` replies a minute; the rest get no reply at all."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def may_reply(self, sender: str) -> bool:
        """Whether `sender` (a normalized number, or what was given) may be answered now; when
        True it is counted as answered. False with Redis down: a flood must not get through
        because the counter is unreachable."""
        window = int(time.time() // 60)
        try:
            allowed = self.redis.eval(
                _STRANGER_MAY_REPLY, 2, STRANGER_KEY.format(phone=sender[:32]),
                STRANGERS_KEY.format(window=window), self.per_minute, STRANGER_QUIET_SECONDS)
        except RedisError:
            return False
        return int(allowed) == 1
