"""No page shows stale money: a payment credited between two requests shows on the second
(sessions come from the cache; pages never do)."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from billing.services import LineSpec, invoice_issue
from payments.models import Payment
from payments.services import PaymentReport, payments_confirm
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

NOON_MX = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=datetime.UTC)


def _paid(contract, amount, **payment):
    record = Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        amount=amount,
        currency=contract.provider.currency,
        reference="11100000000017",
        **payment,
    )
    payments_confirm(
        reports=[
            PaymentReport(
                payment_id=record.pk, amount=amount, currency=record.currency, paid_at=NOON_MX
            )
        ],
        source="agent",
    )


@time_machine.travel(NOON_MX, tick=False)
def test_credit_days_grow_on_the_very_next_request(client):
    kona = ProviderFactory(code="111", handle_domain="kona")
    plan = PlanFactory(provider=kona, price=Decimal("250.00"))
    user = UserFactory(provider=kona)
    contract = ContractFactory(
        provider=kona, user=user, plan=plan, paid_until=datetime.date(2026, 12, 13)
    )
    client.force_login(user)
    assert "<strong>3</strong> días de crédito restantes" in client.get("/").text

    _paid(contract, Decimal("250.00"), plan=plan)

    assert "<strong>33</strong> días de crédito restantes" in client.get("/").text


@time_machine.travel(NOON_MX, tick=False)
def test_an_invoice_paid_between_two_requests_shows_pagada(client):
    interatos = ProviderFactory(code="222", handle_domain="interatos", currency="ARS")
    user = UserFactory(provider=interatos)
    contract = ContractFactory(provider=interatos, user=user, billing_mode="postpaid")
    invoice = invoice_issue(
        contract=contract,
        lines=[LineSpec(description="Plan", amount=Decimal("2590.00"))],
        due_date=datetime.date(2026, 12, 20),
    )
    client.force_login(user)
    assert "IMPAGA" in client.get("/facturas/").text

    _paid(contract, Decimal("2590.00"), invoice=invoice)

    page = client.get("/facturas/").text
    assert "PAGADA" in page and "IMPAGA" not in page


def test_pages_are_gzipped_for_browsers_that_take_it(client):
    import gzip

    page = client.get("/accounts/login/", HTTP_ACCEPT_ENCODING="gzip, br")

    assert page["Content-Encoding"] == "gzip"
    html = gzip.decompress(page.content)
    # Django pads each gzipped answer with up to 100 random bytes (against BREACH).
    assert b"INGRESAR" in html and len(page.content) - 100 < len(html) / 2
