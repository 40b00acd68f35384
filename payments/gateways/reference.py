"""Self-issued reference: numeric, the ISP's prefix, a random body and a Luhn check digit.

Paid at a store or bank and matched from the settlement file, or confirmed by an agent.
"""

import secrets
from datetime import timedelta

from django.utils import timezone
from stdnum import luhn

from . import PaymentUrls, Started, WebhookRejected

BODY_DIGITS = 11


def reference_new(*, prefix: str) -> str:
    body = prefix + "".join(str(secrets.randbelow(10)) for _ in range(BODY_DIGITS))
    return body + luhn.calc_check_digit(body)


def reference_is_valid(value: str) -> bool:
    return value.isdigit() and len(value) >= 8 and luhn.is_valid(value)


class ReferenceAdapter:
    code = "reference"
    methods = ("cash",)

    def start(self, *, payment, account, urls: PaymentUrls, method: str) -> Started:
        prefix = account.reference_prefix or payment.provider.code
        return Started(
            reference=reference_new(prefix=prefix),
            expires_at=timezone.now() + timedelta(days=account.expiry_days),
        )

    def webhook(self, *, request, account):
        raise WebhookRejected("self-issued references have no webhooks")
