"""One interface for every payment gateway.

A gateway turns a Payment into something the subscriber can pay (a reference to take to
a store, or a page to pay online), and turns a webhook delivery into verified facts about
payments. Crediting is never a gateway's job: `payments.services.payment_confirm` does it.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.http import HttpRequest
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from payments.models import GatewayAccount, Payment


class GatewayError(Exception):
    """The gateway failed or refused (network, timeout, 4xx/5xx). Never holds secrets.

    `final` marks an answer the gateway has stored against the idempotency key (it will
    replay it to a retry with the same key): the next attempt needs a new key. Timeouts and
    network errors are not final: retrying with the same key is what prevents a second
    charge.
    """

    def __init__(self, message: str = "", *, final: bool = False):
        super().__init__(message)
        self.final = final


class WebhookRejected(Exception):
    """A delivery that is not authentic or not understood: answered with 400."""


@dataclass(frozen=True)
class Started:
    """What the gateway gave back for a new payment."""

    external_id: str = ""
    reference: str = ""
    voucher_url: str = ""
    checkout_url: str = ""
    barcode_url: str = ""
    expires_at: datetime.datetime | None = None


@dataclass(frozen=True)
class RemotePayment:
    """A payment as the gateway reports it after we asked it directly."""

    event_id: str
    external_id: str
    paid: bool
    amount: Decimal | None = None
    currency: str = ""
    paid_at: datetime.datetime | None = None
    # How to find our Payment: by its external id, or by our public id sent as metadata.
    payment_public_id: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentUrls:
    """Where a gateway sends the subscriber back, and where it calls us."""

    success: str
    cancel: str
    notification: str


class Adapter(Protocol):
    code: str
    methods: tuple[str, ...]

    def start(
        self, *, payment: "Payment", account: "GatewayAccount", urls: PaymentUrls, method: str
    ) -> Started: ...

    def webhook(self, *, request: HttpRequest, account: "GatewayAccount") -> list[RemotePayment]:
        """Verify the delivery and return the payments it is about (already confirmed by
        the gateway when its scheme requires a fetch); [] for events we do not act on."""
        ...

    def fetch(self, *, payment: "Payment", account: "GatewayAccount") -> RemotePayment | None:
        """Ask the gateway what became of one payment (the poller's safety net for a
        webhook that never came); None when it cannot say. Optional: an adapter without it
        is not polled."""
        ...


ADAPTERS = {
    "reference": "payments.gateways.reference.ReferenceAdapter",
    "stripe": "payments.gateways.stripe.StripeAdapter",
    "mercadopago": "payments.gateways.mercadopago.MercadoPagoAdapter",
    "oxxopay": "payments.gateways.oxxopay.OxxoPayAdapter",
}


def adapter_for(gateway: str) -> Adapter:
    return import_string(ADAPTERS[gateway])()
