"""Secrets at rest (gateway credentials, the ISP's network secrets): Fernet-encrypted JSON
under FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY is a list of Fernet keys, newest first (MultiFernet): the first
encrypts, every one decrypts, so a key is rotated by putting a new one first, running
`manage.py credentials_reencrypt`, then dropping the old one. Production requires it;
elsewhere, without it, a key is derived from SECRET_KEY. A value no key opens is an
error (SecretsUnreadable), never an empty set of credentials: a payment method that
silently lost its keys would fail at the gateway instead, with nothing to say why.
"""

import base64
import hashlib
import json
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

logger = logging.getLogger(__name__)


class SecretsUnreadable(Exception):
    """No key of FIELD_ENCRYPTION_KEY opens the stored secrets."""


def _fernet() -> MultiFernet:
    keys = list(settings.FIELD_ENCRYPTION_KEY)
    if not keys:
        digest = hashlib.sha256(("antena-credentials:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def secrets_encrypt(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def secrets_decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        logger.error("secrets unreadable: no FIELD_ENCRYPTION_KEY key opens them")
        raise SecretsUnreadable(
            "the stored credentials cannot be read with FIELD_ENCRYPTION_KEY"
        ) from None


def secrets_reencrypt(token: str) -> str:
    """The same credentials under the first key (MultiFernet.rotate)."""
    if not token:
        return token
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsUnreadable(
            "the stored credentials cannot be read with FIELD_ENCRYPTION_KEY"
        ) from None
