"""Twenty deliveries of the same signed webhook at once, on PostgreSQL: one credit."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.models import LedgerEntry, ServicePeriod
from payments.models import GatewayAccount, Payment, ProcessedEvent, WebhookDelivery

from . import stripe_server as api

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_deliveries_of_one_event_credit_once(juan):
    contract = juan.contracts.get()
    account = GatewayAccount(provider=contract.provider, gateway="stripe")
    account.credentials = {"secret_key": api.SECRET_KEY, "webhook_secret": api.WEBHOOK_SECRET}
    account.save()
    payment = Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="stripe",
        method="oxxo",
        plan=contract.plan,
        amount=contract.plan.price,
        currency="MXN",
        reference="12345678901234",
        external_id="pi_race",
        expires_at=timezone.now() + timezone.timedelta(days=3),
    )
    body = json.dumps(
        api.event(
            "payment_intent.succeeded",
            {
                "id": "pi_race",
                "object": "payment_intent",
                "amount": 25000,
                "amount_received": 25000,
                "currency": "mxn",
                "status": "succeeded",
                "metadata": {"payment_public_id": str(payment.public_id)},
            },
            event_id="evt_race",
        )
    ).encode()
    before = contract.paid_until
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def deliver():
        client = Client()
        barrier.wait()
        try:
            response = client.post(
                "/webhooks/stripe/111/",
                body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=api.signature_header(body),
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 20
    assert LedgerEntry.objects.filter(contract=contract, kind="payment").count() == 1
    assert ServicePeriod.objects.filter(contract=contract).count() == 1
    assert ProcessedEvent.objects.filter(gateway="stripe", event_id="evt_race").count() == 1
    assert WebhookDelivery.objects.count() == 20  # every delivery is kept as received
    contract.refresh_from_db()
    assert (contract.paid_until - before).days == 30
