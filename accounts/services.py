"""Every write of the accounts app. Keyword-only, atomic, named <noun>_<verb>."""

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from datetime import timedelta

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from core.locks import rows_locked
from core.outbox import OutboxRestLater, outbox_enqueue, outbox_task

from .models import Contract, User, VerificationCode
from .selectors import reset_phones_for
from .sms import SmsDeliveryError, sms_send

logger = logging.getLogger(__name__)


class ClaimError(Exception):
    """The claim cannot go on; the message is safe to show the subscriber."""


def _code_hash(*, token: str, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"{token}:{code}".encode(), hashlib.sha256).hexdigest()


def verification_token_new() -> str:
    """A random token for the browser's session, issued whether or not anything matched."""
    return secrets.token_urlsafe(32)


@transaction.atomic
def verification_code_issue(
    *,
    token: str,
    purpose: VerificationCode.Purpose,
    phones: Sequence[str],
    provider_name: str,
    contract: Contract | None = None,
    user: User | None = None,
) -> VerificationCode:
    """Create a 6-digit code tied to `token`; the worker texts it to each of `phones`
    (once each) after the commit (core.outbox). Nothing goes out inside the request.

    With no phones it is a decoy: the same rows are written, nothing is sent, and the
    code can never be used (no contract or login behind it), so an answer for data that
    match costs what one for data that do not.
    """
    code = f"{secrets.randbelow(10**6):06d}"
    verification = VerificationCode.objects.create(
        purpose=purpose,
        token=token,
        code_hash=_code_hash(token=token, code=code),
        contract=contract,
        user=user,
        expires_at=timezone.now() + timedelta(seconds=settings.VERIFICATION_CODE_TTL_SECONDS),
    )
    minutes = settings.VERIFICATION_CODE_TTL_SECONDS // 60
    body = _("%(provider)s: tu código es %(code)s. Vence en %(minutes)s minutos.") % {
        "provider": provider_name,
        "code": code,
        "minutes": minutes,
    }
    outbox_enqueue(task=sms_deliver, kwargs={"phones": list(dict.fromkeys(phones)), "body": body})
    return verification


@outbox_task
def sms_deliver(*, phones: list[str], body: str) -> None:
    """Text `body` to each phone (from the worker). A gateway error leaves the phones not
    reached yet for the outbox's next attempt: those reached are not texted again."""
    for position, phone in enumerate(phones):
        try:
            sms_send(to=phone, body=body)
        except SmsDeliveryError as error:
            raise OutboxRestLater({"phones": phones[position:], "body": body}) from error


@transaction.atomic
def verification_code_verify(
    *, token: str, purpose: VerificationCode.Purpose, code: str
) -> VerificationCode | None:
    """The code row when `code` is right, unused, unexpired and within its tries; else None.

    A wrong code uses up one try; a right code works once.
    """
    verification = rows_locked(
        VerificationCode.objects.filter(token=token, purpose=purpose)
    ).first()
    if verification is None:
        return None
    usable = (
        verification.consumed_at is None
        and verification.expires_at > timezone.now()
        and verification.attempts < settings.VERIFICATION_CODE_MAX_ATTEMPTS
    )
    if not usable:
        return None
    if not hmac.compare_digest(verification.code_hash, _code_hash(token=token, code=code)):
        verification.attempts += 1
        verification.save(update_fields=["attempts"])
        return None
    verification.consumed_at = timezone.now()
    verification.save(update_fields=["consumed_at"])
    return verification


def verification_codes_purge(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete codes that expired more than `older_than` ago. Returns how many."""
    deleted, _by_model = VerificationCode.objects.filter(
        expires_at__lt=timezone.now() - older_than
    ).delete()
    return deleted


def contract_claim_start(*, contract: Contract | None, token: str) -> VerificationCode:
    """Step 1 of "Crear una cuenta": a code to the phone of the contract that matched, or,
    with no contract (nothing matched, or its SMS limit was reached), a decoy that costs
    the same and sends nothing."""
    return verification_code_issue(
        token=token,
        purpose=VerificationCode.Purpose.CLAIM,
        phones=[str(contract.phone)] if contract is not None else [],
        provider_name=contract.provider.name if contract is not None else "",
        contract=contract,
    )


def _contract_lock_unclaimed(*, contract_id: int) -> Contract:
    contract = rows_locked(
        Contract.objects.select_related("provider").filter(
            pk=contract_id, status=Contract.Status.ACTIVE, user__isnull=True
        )
    ).first()
    if contract is None:
        raise ClaimError(_("Este contrato ya tiene una cuenta. Ingresa con ella."))
    return contract


@transaction.atomic
def contract_claim(*, contract_id: int, name: str, password: str) -> User:
    """Step 3 ("Nueva cuenta"): create the login `name@domain` and give it the contract."""
    contract = _contract_lock_unclaimed(contract_id=contract_id)
    provider = contract.provider
    username = f"{name}@{provider.handle_domain}"
    if User.objects.filter(username__iexact=username).exists():
        raise ClaimError(
            _("La cuenta %(username)s ya existe. Elige otro nombre.") % {"username": username}
        )
    user = User(
        username=username,
        provider=provider,
        email=contract.email,
        first_name=contract.holder_name[:150],
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ClaimError(
            _("La cuenta %(username)s ya existe. Elige otro nombre.") % {"username": username}
        ) from None
    _contract_give(contract=contract, user=user)
    logger.info(
        "contract claimed provider=%s contract_id=%s user_id=%s",
        provider.code,
        contract.pk,
        user.pk,
    )
    return user


@transaction.atomic
def contract_attach(*, contract_id: int, user: User) -> Contract:
    """A signed-in subscriber claims one more contract of the same ISP into their login."""
    contract = _contract_lock_unclaimed(contract_id=contract_id)
    if contract.provider_id != user.provider_id:
        raise ClaimError(_("Este contrato es de otro proveedor; crea una cuenta aparte."))
    _contract_give(contract=contract, user=user)
    logger.info("contract attached contract_id=%s user_id=%s", contract.pk, user.pk)
    return contract


def _contract_give(*, contract: Contract, user: User) -> None:
    contract.user = user
    contract.claimed_at = timezone.now()
    contract.save(update_fields=["user", "claimed_at", "updated_at"])


@transaction.atomic
def password_reset_start(*, users: Sequence[User], token: str, reset_url_base: str) -> None:
    """ "Olvidé mi contraseña" for the logins `users` (an e-mail may name logins at
    several ISPs): a code by SMS, for the browser to type, to the phones on the first
    login's contracts as they are now (each number once), and to each login with an
    e-mail a link; all sent by the worker after the commit (the links are made there).

    Never to a copy of a phone kept on the login: a contract's phone changed by staff or
    an import (a recycled number) must not still receive the codes. The same rows are
    written whatever `users` holds, none included: the answer costs the same whether or
    not a login matched.
    """
    first = users[0] if users else None
    provider_name = first.provider.name if first is not None and first.provider else "Antena"
    verification_code_issue(
        token=token,
        purpose=VerificationCode.Purpose.PASSWORD_RESET,
        phones=reset_phones_for(user=first),
        provider_name=provider_name,
        user=first,
    )
    outbox_enqueue(
        task=password_reset_link_send,
        kwargs={"user_ids": [user.pk for user in users], "base_url": reset_url_base},
    )


@outbox_task
def password_reset_link_send(*, user_ids: list[int], base_url: str) -> None:
    """The reset link by e-mail (from the worker), to each of these logins with one."""
    for user in User.objects.select_related("provider").filter(pk__in=user_ids, is_active=True):
        if not user.email:
            continue
        provider_name = user.provider.name if user.provider else "Antena"
        with translation.override(user.provider.language if user.provider else None):
            _password_reset_link_mail(user=user, provider_name=provider_name, base_url=base_url)


def _password_reset_link_mail(*, user: User, provider_name: str, base_url: str) -> None:
    """In the ISP's language and voice (the worker has no request to take it from)."""
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    body = _(
        "Hola. Pediste cambiar la contraseña de %(username)s. Abre este enlace para "
        "elegir una nueva: %(url)s\n\nSi no lo pediste, ignora este correo."
    ) % {"username": user.username, "url": base_url.rstrip("/") + path}
    subject = _("%(provider)s: cambia tu contraseña") % {"provider": provider_name}
    send_mail(subject, body, None, [user.email], fail_silently=False)


CLAIM_LINK_SALT = "antena.accounts.claim-link"
CLAIM_LINK_MAX_AGE = timedelta(days=2)


def claim_link_start(*, contract: Contract | None, base_url: str) -> None:
    """Primer ingreso: the link to create the account goes to the contract's e-mail, from
    the worker after the answer. The same row is written when nothing matched (`contract`
    None: the worker sends nothing), so the answer costs the same."""
    outbox_enqueue(
        task=claim_link_send,
        kwargs={"contract_id": contract.pk if contract else None, "base_url": base_url},
    )


@outbox_task
def claim_link_send(*, contract_id: int | None, base_url: str) -> None:
    contract = (
        Contract.objects.select_related("provider")
        .filter(pk=contract_id, user__isnull=True)
        .exclude(email="")
        .first()
        if contract_id
        else None
    )
    if contract is None:
        return
    # Signed, with the e-mail it went to: a link stops working once the ISP changes the
    # contract's e-mail, once the contract is claimed, and after CLAIM_LINK_MAX_AGE.
    token = signing.dumps({"contract": contract.pk, "email": contract.email}, salt=CLAIM_LINK_SALT)
    url = base_url.rstrip("/") + reverse("claim_link", kwargs={"token": token})
    with translation.override(contract.provider.language):
        _claim_link_mail(contract=contract, url=url)


def _claim_link_mail(*, contract: Contract, url: str) -> None:
    body = _(
        "Hola, %(holder)s. Para crear tu cuenta del contrato %(number)s abre este enlace: "
        "%(url)s\n\nSi no lo pediste, ignora este correo."
    ) % {"holder": contract.holder_name, "number": contract.number, "url": url}
    subject = _("%(provider)s: crea tu cuenta") % {"provider": contract.provider.name}
    send_mail(subject, body, None, [contract.email], fail_silently=False)


def claim_link_contract(*, token: str) -> Contract | None:
    """The contract a claim link was sent for, while it may still be claimed with it."""
    try:
        value = signing.loads(
            token, salt=CLAIM_LINK_SALT, max_age=CLAIM_LINK_MAX_AGE.total_seconds()
        )
    except signing.BadSignature:
        return None
    return (
        Contract.objects.select_related("provider")
        .filter(
            pk=value.get("contract"),
            email=value.get("email") or "-",
            user__isnull=True,
            status=Contract.Status.ACTIVE,
        )
        .first()
    )


def contracts_phone_changed_notify(*, changes: Sequence[tuple[Contract, str]]) -> None:
    """Tell each old number of a claimed contract, after commit, that the contract's codes
    no longer come to it: a phone changed by mistake, or by someone else, is noticed by
    the person who had it. (Unclaimed contracts have nobody to tell.)"""
    for contract, old_phone in changes:
        old_phone = str(old_phone or "")
        if contract.user_id is None or not old_phone or old_phone == str(contract.phone):
            continue
        provider = contract.provider
        body = _(
            "%(provider)s: el número del contrato %(number)s cambió; los códigos ya no "
            "llegarán aquí. Si no lo pediste, llama al %(support)s."
        ) % {
            "provider": provider.name,
            "number": contract.number,
            "support": provider.support_phone or provider.name,
        }
        outbox_enqueue(task=sms_deliver, kwargs={"phones": [old_phone], "body": body})


@transaction.atomic
def user_password_set(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    logger.info("password set user_id=%s", user.pk)
