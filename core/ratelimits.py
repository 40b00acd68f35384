"""Counting failures per client, cheaply enough for the hottest path (webhooks).

allauth's limits (logins, claims, SMS) take a cache lock per check; a gateway's burst
comes from a few addresses, so every delivery would wait on the same lock. Here a check
is one cache read and only a failure writes: a counter per client in fixed windows.
"""

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


def _key(scope: str, client: str, seconds: int) -> str:
    return f"strikes:{scope}:{client}:{int(time.time() // seconds)}"


def strikes_exceeded(*, scope: str, client: str, limit: int, seconds: int) -> bool:
    """Whether `client` failed `limit` times or more in this window of `seconds`."""
    return (cache.get(_key(scope, client, seconds)) or 0) >= limit


def strike(*, scope: str, client: str, seconds: int) -> None:
    """Count one failure of `client` in this window."""
    key = _key(scope, client, seconds)
    cache.add(key, 0, timeout=seconds * 2)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, timeout=seconds * 2)
