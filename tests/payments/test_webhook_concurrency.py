"""Twenty deliveries of the same signed webhook at once, on PostgreSQL: one credit."""

import threading

import pytest
from django.db import connection
from django.test import Client

from billing.models import LedgerEntry, ServicePeriod
from payments.models import ProcessedEvent, WebhookDelivery

from . import stripe_server as api

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_deliveries_of_one_event_credit_once(juan):
    contract = juan.contracts.get()
    api.account_for(contract.provider)
    payment = api.oxxo_payment_for(contract, intent_id="pi_race")
    body = api.intent_succeeded_body(payment, event_id="evt_race")
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
    assert ServicePeriod.objects.filter(contract=contract).exclude(paid_by=None).count() == 1
    assert ProcessedEvent.objects.filter(gateway="stripe", event_id="evt_race").count() == 1
    assert WebhookDelivery.objects.count() == 20  # every delivery is kept
    # Each request drained what it found waiting: none is left behind.
    outcomes = sorted(WebhookDelivery.objects.values_list("outcome", flat=True))
    assert outcomes == ["duplicate"] * 19 + ["processed"]
    contract.refresh_from_db()
    assert (contract.paid_until - before).days == 30
