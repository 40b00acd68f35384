"""Django's Redis cache, keeping its redis-py clients instead of making one per call, and
falling back to the process's memory while Redis is down."""

import logging
import time

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ReusedClients(RedisCacheClient):
    """Django builds a new `redis.Redis` for every cache call, which costs more CPU than
    the call itself (about 0.15 ms, measured in docs/performance.md, "Webhook
    acknowledgement"). One per connection pool is kept instead: a `redis.Redis` takes a
    connection from its pool for each command, so threads may share it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


logger = logging.getLogger(__name__)


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _ReusedClients


class FailOpenRedisCache(RedisCache):
    """Redis, and when Redis does not answer, this process's memory instead.

    With Redis down, pages, sign-in and payment references go on working: the rate
    limits count per process (fail open, less strict for as long) and each switch is
    logged. After a failure Redis is not asked again for BREAKER_SECONDS, by any thread of
    the process, so a Redis that times out costs one timeout, not one per call. Any
    error of Redis counts: unreachable, and also read-only after a failover, out of
    memory, unable to persist.
    """

    BREAKER_SECONDS = 5.0
    # By location: Django makes one cache object per thread.
    _down_until: dict[str, float] = {}

    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._location = str(server)
        self._fallback = LocMemCache(f"fail-open:{server}", {})

    def _call(self, name: str, *args, **kwargs):
        if time.monotonic() < self._down_until.get(self._location, 0.0):
            return getattr(self._fallback, name)(*args, **kwargs)
        try:
            return getattr(super(), name)(*args, **kwargs)
        except redis.exceptions.RedisError as error:
            logger.warning(
                "cache: Redis failed (%s); counting in this process for %ss",
                type(error).__name__,
                self.BREAKER_SECONDS,
            )
            self._down_until[self._location] = time.monotonic() + self.BREAKER_SECONDS
            return getattr(self._fallback, name)(*args, **kwargs)

    def add(self, *args, **kwargs):
        return self._call("add", *args, **kwargs)

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._call("set", *args, **kwargs)

    def touch(self, *args, **kwargs):
        return self._call("touch", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)

    def get_many(self, *args, **kwargs):
        return self._call("get_many", *args, **kwargs)

    def has_key(self, *args, **kwargs):
        return self._call("has_key", *args, **kwargs)

    def incr(self, *args, **kwargs):
        return self._call("incr", *args, **kwargs)

    def set_many(self, *args, **kwargs):
        return self._call("set_many", *args, **kwargs)

    def delete_many(self, *args, **kwargs):
        return self._call("delete_many", *args, **kwargs)

    def clear(self):
        return self._call("clear")
