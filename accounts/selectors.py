"""Reads of the accounts app, already scoped to what the caller may see."""

from django.db.models import Q, QuerySet

from core.phones import phone_variants

from .models import Contract, Provider, User


def contract_find_claimable(*, provider_code: str, number: str, phone: str) -> Contract | None:
    """The active, unclaimed contract when ISP code, number and phone all match; else None."""
    provider = Provider.objects.filter(code=provider_code.strip(), is_active=True).first()
    if provider is None:
        return None
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


def provider_active_get(*, provider_id: int | None) -> Provider | None:
    return Provider.objects.filter(pk=provider_id, is_active=True).first() if provider_id else None


def contract_claimable_get(*, contract_id: int) -> Contract | None:
    return (
        Contract.objects.select_related("provider")
        .filter(pk=contract_id, status=Contract.Status.ACTIVE, user__isnull=True)
        .first()
    )


def contracts_for(*, user: User) -> QuerySet[Contract]:
    """The contracts a subscriber has claimed, with what their pages show."""
    return (
        Contract.objects.filter(user=user)
        .select_related("provider", "plan", "zone")
        .order_by("claimed_at", "pk")
    )


def users_for_login(*, login: str) -> QuerySet[User]:
    """Active logins whose handle or e-mail is `login`."""
    login = login.strip()
    if not login:
        return User.objects.none()
    return User.objects.select_related("provider").filter(
        Q(username__iexact=login) | Q(email__iexact=login), is_active=True
    )


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
        return [user.phone] if user is not None and user.phone else []
    return list(
        dict.fromkeys(phone for phone, status in rows if status != Contract.Status.CANCELLED)
    )
