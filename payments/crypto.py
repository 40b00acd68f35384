"""Gateway credentials at rest, through `core.crypto`: one that no key opens is a gateway
error, so asking for a reference says the method is unavailable instead of failing."""

from core.crypto import SecretsUnreadable, secrets_decrypt

from .gateways import GatewayError


class CredentialsUnreadable(GatewayError):
    """No key of FIELD_ENCRYPTION_KEY opens the stored credentials."""


def credentials_decrypt(token: str) -> dict[str, str]:
    try:
        return secrets_decrypt(token)
    except SecretsUnreadable:
        raise CredentialsUnreadable(
            "the stored credentials cannot be read with FIELD_ENCRYPTION_KEY"
        ) from None
