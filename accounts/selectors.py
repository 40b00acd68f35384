"""Reads of the accounts app, already scoped to what the caller may see."""

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet

from core.phones import phone_variants
from core.queries import Param, Prepared

from .models import PORTALS_CACHE_KEY, Contract, Provider, User


def contract_find_claimable(*, provider: Provider, number: str, phone: str) -> Contract | None:
    """The ISP's active, unclaimed contract when number and phone match; else None."""
    phones = phone_variants(phone, country=provider.country)
    if not phones:
        return None
    return (
        Contract.objects.select_related("provider")
        .filter(
            provider=provider,
            number=number.strip(),
            phone__in=phones,
            status=Contract.Status.ACTIVE,
            user__isnull=True,
        )
        .first()
    )


def contract_find_claimable_by_email(
    *, provider: Provider, number: str, email: str
) -> Contract | None:
    """The ISP's active, unclaimed contract with that number and e-mail, where the ISP
    lets its subscribers start by e-mail; else None."""
    if not provider.claim_by_email or not email.strip():
        return None
    return (
        Contract.objects.select_related("provider")
        .filter(
            provider=provider,
            number=number.strip(),
            email__iexact=email.strip(),
            status=Contract.Status.ACTIVE,
            user__isnull=True,
        )
        .first()
    )


def _portals() -> dict:
    """The active ISPs' rows by id, and their ids by own host, handle domain and code: one
    cache entry, cleared whenever a provider is saved. Plain values, not model instances:
    every request reads it whole, and reading 500 ISPs as models cost 4–5 ms of CPU
    (bench/portals_bench.py, docs/performance.md)."""
    fields = tuple(field.attname for field in Provider._meta.concrete_fields)
    portals = cache.get(PORTALS_CACHE_KEY)
    # A map written before the model changed (a deployment) is read again.
    if portals is None or portals["fields"] != fields:
        rows = [
            dict(zip(fields, row, strict=True))
            for row in Provider.objects.filter(is_active=True).values_list(*fields)
        ]
        portals = {
            "fields": fields,
            "id": {row["id"]: tuple(row.values()) for row in rows},
            "host": {row["portal_host"]: row["id"] for row in rows if row["portal_host"]},
            "handle": {row["handle_domain"]: row["id"] for row in rows},
            "code": {row["code"]: row["id"] for row in rows},
        }
        cache.set(PORTALS_CACHE_KEY, portals, timeout=300)
    return portals


def _portal(by: str, key) -> Provider | None:
    portals = _portals()
    row = portals["id"].get(key if by == "id" else portals[by].get(key))
    return None if row is None else Provider.from_db(Provider.objects.db, portals["fields"], row)


def provider_for_host(*, host: str) -> Provider | None:
    """The ISP whose portal is at `host` (its own domain, or its handle domain under
    ANTENA_DOMAIN); None for any other host."""
    host = host.split(":", 1)[0].lower().rstrip(".")
    domain = settings.ANTENA_DOMAIN
    if domain and host.endswith(f".{domain}"):
        return _portal("handle", host.removesuffix(f".{domain}"))
    return _portal("host", host)


def provider_for_code(*, code: str) -> Provider | None:
    """The ISP of a /p/<code>/ portal."""
    return _portal("code", code)


def provider_for_id(*, provider_id: int | None) -> Provider | None:
    """An active ISP by id, from the same map (a signed-in login's ISP on the bare routes)."""
    return _portal("id", provider_id)


def provider_only_active() -> Provider | None:
    """The ISP of a single-ISP install; None when there are several."""
    providers = list(Provider.objects.filter(is_active=True)[:2])
    return providers[0] if len(providers) == 1 else None


def provider_active_get(*, provider_id: int | None) -> Provider | None:
    return Provider.objects.filter(pk=provider_id, is_active=True).first() if provider_id else None


def contract_claimable_get(*, contract_id: int) -> Contract | None:
    return (
        Contract.objects.select_related("provider")
        .filter(pk=contract_id, status=Contract.Status.ACTIVE, user__isnull=True)
        .first()
    )


_CONTRACTS_OF_USER = Prepared(
    lambda: (
        Contract.objects.filter(user_id=Param("user"))
        .select_related("user", "plan", "zone")
        .order_by("claimed_at", "pk")
    )
)
_USER_BY_ID = Prepared(lambda: User.objects.filter(pk=Param("user")))


def login_with_contracts(*, user_id: int) -> User | None:
    """A session's login with its contracts (`contracts_for`) in one query; a login with
    none (staff) by a second one. Every subscriber page needs both (docs/performance.md)."""
    contracts = _CONTRACTS_OF_USER.list(user=user_id)
    if not contracts:
        return next(iter(_USER_BY_ID.list(user=user_id)), None)
    user = contracts[0].user
    for contract in contracts:
        contract.user = user
    user.contracts_read = contracts
    return user


def contracts_for(*, user: User) -> list[Contract]:
    """The contracts a subscriber has claimed, with what their pages show: those read
    with the login when the session's login came from `login_with_contracts`. Their ISP is
    the login's (a login claims contracts of its own ISP only), which on an ISP's portal
    is the portal's, already loaded: no join on every page (docs/performance.md)."""
    contracts = getattr(user, "contracts_read", None)
    if contracts is None:
        contracts = _CONTRACTS_OF_USER.list(user=user.pk)
    for contract in contracts:
        if contract.provider_id == user.provider_id:
            contract.provider = user.provider
    return contracts


def users_for_login(*, login: str, portal: Provider | None) -> QuerySet[User]:
    """Active logins whose handle or e-mail is `login`; on an ISP's portal, its own only."""
    login = login.strip()
    if not login:
        return User.objects.none()
    users = User.objects.select_related("provider").filter(
        Q(username__iexact=login) | Q(email__iexact=login), is_active=True
    )
    return users.filter(provider=portal) if portal is not None else users


def reset_phones_for(*, user: User | None) -> list[str]:
    """Where a password-reset code goes: the phones on the login's contracts now (not
    cancelled), each number once; a login with no contract at all (staff) uses its own.
    One query, with or without a user."""
    rows = list(
        Contract.objects.filter(user=user.pk if user is not None else -1)
        .order_by("claimed_at", "pk")
        .values_list("phone", "status")
    )
    if not rows:
        return [str(user.phone)] if user is not None and user.phone else []
    return list(
        dict.fromkeys(str(phone) for phone, status in rows if status != Contract.Status.CANCELLED)
    )
