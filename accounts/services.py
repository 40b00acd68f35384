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
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.locks import rows_locked

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
    """Create a 6-digit code tied to `token` and text it to each of `phones` (once each)
    once the row is committed."""
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
    # An error from the gateway propagates to the caller after the commit: the code
    # row stays unusable-but-harmless and expires on its own.
    for phone in dict.fromkeys(phones):
        transaction.on_commit(lambda phone=phone: sms_send(to=phone, body=body))
    return verification


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


def contract_claim_start(*, contract: Contract, token: str) -> VerificationCode:
    """Step 1 of "Crear una cuenta" for a contract that matched: text a code to its phone."""
    return verification_code_issue(
        token=token,
        purpose=VerificationCode.Purpose.CLAIM,
        phones=[contract.phone],
        provider_name=contract.provider.name,
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
def password_reset_start(*, user: User, token: str | None, reset_url_base: str) -> None:
    """ "Olvidé mi contraseña": a code by SMS (when `token` is given for the browser to
    type it) to the phones on the login's contracts as they are now, each number once,
    and a link by e-mail when one is on file.

    Never to a copy of a phone kept on the login: a contract's phone changed by staff or
    an import (a recycled number) must not still receive the codes.
    """
    provider_name = user.provider.name if user.provider else "Antena"
    phones = reset_phones_for(user=user)
    if token and phones:
        verification_code_issue(
            token=token,
            purpose=VerificationCode.Purpose.PASSWORD_RESET,
            phones=phones,
            provider_name=provider_name,
            user=user,
        )
    if user.email:
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
        ) % {"username": user.username, "url": reset_url_base.rstrip("/") + path}
        subject = _("%(provider)s: cambia tu contraseña") % {"provider": provider_name}
        transaction.on_commit(
            lambda: send_mail(subject, body, None, [user.email], fail_silently=False)
        )


def contracts_phone_changed_notify(*, changes: Sequence[tuple[Contract, str]]) -> None:
    """Tell each old number of a claimed contract, after commit, that the contract's codes
    no longer come to it: a phone changed by mistake, or by someone else, is noticed by
    the person who had it. (Unclaimed contracts have nobody to tell.)"""
    for contract, old_phone in changes:
        if contract.user_id is None or not old_phone or old_phone == contract.phone:
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
        transaction.on_commit(lambda to=old_phone, body=body: _notice_send(to=to, body=body))


def _notice_send(*, to: str, body: str) -> None:
    # A notice that cannot go out must not undo the change already committed.
    try:
        sms_send(to=to, body=body)
    except SmsDeliveryError:
        logger.warning("phone change notice not sent")


@transaction.atomic
def user_password_set(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])
    logger.info("password set user_id=%s", user.pk)
