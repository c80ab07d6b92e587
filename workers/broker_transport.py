"""kombu's Redis transport, with the crash on a Redis restart taken out (issue 20, item 11).

What happened: Redis restarts (or drops the worker's sockets) while a task is running. With
`task_acks_late` and prefetch 1 a busy worker always holds such an unacknowledged message.
Celery's consumer then detaches the broken connection (`Connection.collect`, which clears the
transport's `client`) and closes it; closing the channel restores its unacknowledged messages,
and the Redis channel, looking for its connection settings on the cleared `client`, raised
``AttributeError: 'NoneType' object has no attribute 'hostname'`` — not one of the connection
errors Celery expects there — so the worker stopped with "Unrecoverable error" (and, under
`scripts/run`, honcho stopped the whole stack with it). The same happened when the running task
finished and was acknowledged on the dead channel. Gossip and mingle off (as production always
ran) are not enough: tests/system/test_worker_redis_restart.py reproduces it with them off.

The fix: a channel whose connection was detached says so with Redis's own `ConnectionError`,
which Celery and kombu handle as the connection loss it is (the consumer reconnects and goes
on consuming). What is lost is only the bookkeeping of that dead channel: its unacknowledged
messages stay in Redis's unacked set (restored after `visibility_timeout`) or, when Redis came
back empty, are gone — and the database plus the recovery sweep re-create anything a lost task
carried (README, "Architecture"). Redis URLs only (`redis://`, `rediss://`); see
`workers.flask_celery.celery_config`.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        transport = self.connection
        if transport is None or getattr(transport, "client", None) is None:
            raise RedisConnectionError("the broker connection was closed (Redis went away)")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
