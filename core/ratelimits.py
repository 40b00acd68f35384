"""Counting failures per client, cheaply enough for the hottest path (webhooks).

allauth's limits (logins, claims, SMS) take a cache lock per check; a gateway's burst
comes from a few addresses, so every delivery would wait on the same lock. Here a check
is one cache read and only a failure writes: a counter per client in fixed windows.
"""

import ipaddress
import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, PermissionDenied


def client_ip(request) -> str | None:
    """The client's address by allauth's rule (TRUSTED_PROXY_COUNT), so that every limit
    and the audit trail name the same client; None when there is none to tell."""
    from allauth.account.adapter import get_adapter

    try:
        return get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):  # no address, or a short X-Forwarded-For
        return None


def _client_block(client: str) -> str:
    """An IPv6 client counts by its /64 (one subscriber's or host's block), so that
    rotating addresses within it escapes nothing."""
    if ":" not in client:
        return client
    try:
        return str(ipaddress.ip_network(f"{client}/64", strict=False))
    except ValueError:
        return client


def _key(scope: str, client: str, seconds: int) -> str:
    return f"strikes:{scope}:{_client_block(client)}:{int(time.time() // seconds)}"


# (scope, client): until when (time.monotonic()) this process takes the client as under its
# limit without asking the cache. A gateway's burst comes from a few addresses: most of
# its deliveries cost no cache call; a client that fails here is asked about again.
_under_limit_until: dict[tuple[str, str], float] = {}
TRUSTED_FOR_SECONDS = 1.0


def strikes_exceeded(*, scope: str, client: str, limit: int, seconds: int) -> bool:
    """Whether `client` failed `limit` times or more in this window of `seconds` (as this
    process saw it at most TRUSTED_FOR_SECONDS ago, or failed since)."""
    client = _client_block(client)
    now = time.monotonic()
    if _under_limit_until.get((scope, client), 0.0) > now:
        return False
    exceeded = (cache.get(_key(scope, client, seconds)) or 0) >= limit
    if exceeded:
        _under_limit_until.pop((scope, client), None)
    else:
        if len(_under_limit_until) > 10_000:  # many clients: start again
            _under_limit_until.clear()
        _under_limit_until[scope, client] = now + TRUSTED_FOR_SECONDS
    return exceeded


def strike(*, scope: str, client: str, seconds: int) -> None:
    """Count one failure of `client` in this window."""
    client = _client_block(client)
    _under_limit_until.pop((scope, client), None)
    key = _key(scope, client, seconds)
    cache.add(key, 0, timeout=seconds * 2)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=seconds * 2)
