"""Django's Redis cache, keeping its redis-py clients instead of making one per call."""

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


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _ReusedClients
