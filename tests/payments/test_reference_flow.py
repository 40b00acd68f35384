"""Planes prepago → Adquirir → a cash reference → paid once → credit days grow at once."""

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from stdnum import luhn

from billing.models import LedgerEntry
from billing.selectors import ledger_balance
from core.text import digits_grouped
from payments.models import Payment, PaymentEvent
from payments.services import payment_confirm, payments_expire
from plans.models import Promotion
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def buy(client, plan, method="reference:cash"):
    return client.post("/pagos/nuevo/", {"plan": plan.pk, "method": method})


def test_adquirir_shows_the_isps_methods(client, juan, reference_account):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    page = client.get(f"/planes/{plan.pk}/adquirir/").text
    assert 'value="reference:cash"' in page and "Referencia de pago" in page


def test_the_isp_names_its_methods_in_its_own_words(client, juan, reference_account):
    from payments.models import GatewayAccount

    reference_account.label = "Efectivo en OXXO, 7-Eleven y farmacias"
    reference_account.save()
    GatewayAccount.objects.create(provider=reference_account.provider, gateway="mercadopago")
    plan = juan.contracts.get().plan
    client.force_login(juan)

    page = client.get(f"/planes/{plan.pk}/adquirir/").text

    assert ">Efectivo en OXXO, 7-Eleven y farmacias</button>" in page
    assert ">Mercado Pago</button>" in page
    assert "Referencia de pago" not in page


def test_a_reference_is_numeric_with_prefix_check_digit_amount_and_expiry(
    client, juan, reference_account
):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    response = buy(client, plan)
    payment = Payment.objects.get()
    assert response["Location"] == f"/pagos/{payment.public_id}/"
    assert payment.reference.startswith("111") and payment.reference.isdigit()
    assert luhn.is_valid(payment.reference)
    assert (payment.amount, payment.currency, payment.status) == (
        Decimal("250.00"),
        "MXN",
        "pending",
    )
    assert payment.expires_at - timezone.now() > datetime.timedelta(days=2, hours=23)
    page = client.get(response["Location"]).text
    assert digits_grouped(payment.reference) in page
    assert "$250.00" in page
    assert "<svg" in page  # barcode and QR, inline
    assert "Cómo pagar" in page


def test_asking_again_for_the_same_plan_shows_the_same_reference(client, juan, reference_account):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    first = buy(client, plan)["Location"]
    second = buy(client, plan)["Location"]
    assert first == second
    assert Payment.objects.count() == 1


def test_the_voucher_pdf_downloads(client, juan, reference_account):
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    payment = Payment.objects.get()
    response = client.get(f"/pagos/{payment.public_id}/comprobante.pdf")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


def test_paying_extends_vigencia_by_the_plan_period_and_writes_the_ledger(
    juan, reference_account, client
):
    contract = juan.contracts.get()
    client.force_login(juan)
    buy(client, contract.plan)
    payment = Payment.objects.get()
    before = contract.credit_days()
    result = payment_confirm(
        payment_id=payment.pk,
        amount=Decimal("250.00"),
        currency="MXN",
        paid_at=timezone.now(),
        source="test",
    )
    assert result.outcome == "credited"
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    kinds = list(
        LedgerEntry.objects.filter(contract=contract).order_by("pk").values_list("kind", "amount")
    )
    assert kinds == [("payment", Decimal("250.00")), ("charge", Decimal("-250.00"))]
    assert ledger_balance(contract=contract) == 0
    assert "<strong>35</strong> días de crédito" in client.get("/").text


def test_paid_twice_by_any_route_credits_once(juan, reference_account, client):
    contract = juan.contracts.get()
    client.force_login(juan)
    buy(client, contract.plan)
    payment = Payment.objects.get()
    staff = UserFactory(provider=None, is_staff=True)
    outcomes = [
        payment_confirm(
            payment_id=payment.pk,
            amount=Decimal("250"),
            currency="MXN",
            paid_at=timezone.now(),
            source=source,
            actor=actor,
        ).outcome
        for source, actor in (("settlement", None), ("agent", staff), ("webhook:x", None))
    ]
    assert outcomes == ["credited", "already_paid", "already_paid"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    contract.refresh_from_db()
    assert contract.credit_days() == 35
    assert PaymentEvent.objects.filter(payment=payment, kind="duplicate").count() == 2


@pytest.mark.parametrize(("amount", "currency"), [("200.00", "MXN"), ("250.00", "USD")])
def test_a_different_amount_or_currency_is_held_not_credited(
    juan, reference_account, client, amount, currency
):
    contract = juan.contracts.get()
    client.force_login(juan)
    buy(client, contract.plan)
    payment = Payment.objects.get()
    result = payment_confirm(
        payment_id=payment.pk,
        amount=Decimal(amount),
        currency=currency,
        paid_at=timezone.now(),
        source="settlement",
    )
    assert result.outcome == "held"
    payment.refresh_from_db()
    assert payment.status == "held"
    assert not LedgerEntry.objects.exists()
    contract.refresh_from_db()
    assert contract.credit_days() == 5


def test_cash_paid_after_expiry_is_credited_and_flagged(juan, reference_account, client):
    contract = juan.contracts.get()
    client.force_login(juan)
    buy(client, contract.plan)
    payment = Payment.objects.get()
    assert payments_expire(now=payment.expires_at + datetime.timedelta(seconds=1)) == 1
    payment.refresh_from_db()
    assert payment.status == "expired"
    result = payment_confirm(
        payment_id=payment.pk,
        amount=Decimal("250"),
        currency="MXN",
        paid_at=payment.expires_at + datetime.timedelta(hours=2),
        source="settlement",
    )
    payment.refresh_from_db()
    assert (result.outcome, payment.status, payment.paid_late) == ("credited", "paid", True)
    contract.refresh_from_db()
    assert contract.credit_days() == 35


def test_a_bonus_days_promotion_applies_at_purchase(juan, reference_account, client):
    contract = juan.contracts.get()
    today = contract.provider.today()
    promotion = Promotion.objects.create(
        provider=contract.provider,
        title="+5 días",
        starts_on=today,
        ends_on=today,
        effect="bonus_days",
        bonus_days=5,
    )
    promotion.plans.add(contract.plan)
    client.force_login(juan)
    buy(client, contract.plan)
    payment = Payment.objects.get()
    assert payment.bonus_days == 5
    payment_confirm(
        payment_id=payment.pk,
        amount=payment.amount,
        currency="MXN",
        paid_at=timezone.now(),
        source="test",
    )
    contract.refresh_from_db()
    assert contract.credit_days() == 5 + 35


def test_a_discount_promotion_lowers_the_amount(juan, reference_account, client):
    contract = juan.contracts.get()
    today = contract.provider.today()
    Promotion.objects.create(
        provider=contract.provider,
        title="-10%",
        starts_on=today,
        ends_on=today,
        effect="discount",
        discount_percent=Decimal("10"),
    )
    client.force_login(juan)
    buy(client, contract.plan)
    assert Payment.objects.get().amount == Decimal("225.00")


def test_pending_references_show_on_inicio_and_can_be_cancelled(juan, reference_account, client):
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    payment = Payment.objects.get()
    assert payment.reference in client.get("/").text
    response = client.post(f"/pagos/{payment.public_id}/cancelar/")
    assert response["Location"] == "/"
    payment.refresh_from_db()
    assert payment.status == "cancelled"
    home = client.get("/").text
    assert "Cancelamos la referencia" in home
    assert 'data-testid="pending-payments"' not in home
    history = client.get("/pagos/").text
    assert payment.reference in history and "CANCELADO" in history


def test_someone_elses_reference_is_404(juan, reference_account, client):
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    payment = Payment.objects.get()
    stranger = UserFactory(provider=juan.provider)
    client.force_login(stranger)
    for url in (f"/pagos/{payment.public_id}/", f"/pagos/{payment.public_id}/comprobante.pdf"):
        assert client.get(url).status_code == 404
    assert client.post(f"/pagos/{payment.public_id}/cancelar/").status_code == 404
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_creating_references_is_rate_limited_per_contract(juan, reference_account, client):
    client.force_login(juan)
    plan = juan.contracts.get().plan
    for _ in range(10):
        assert buy(client, plan).status_code == 302
    assert buy(client, plan).status_code == 429


def test_a_method_the_isp_did_not_enable_is_refused(juan, client):
    client.force_login(juan)
    response = buy(client, juan.contracts.get().plan, method="stripe:card")
    assert response.status_code == 302
    assert not Payment.objects.exists()
    assert "Ese medio de pago no está disponible." in client.get(response["Location"]).text


def test_pay_an_invoice_oldest_first_overpayment_stays_as_credit(kona, reference_account, client):
    from tests.billing.factories import issue
    from tests.factories import ContractFactory

    user = UserFactory(provider=kona)
    contract = ContractFactory(provider=kona, user=user, billing_mode="postpaid")
    older = issue(contract, amount="100.00", issue_date=datetime.date(2026, 9, 1))
    newer = issue(contract, amount="100.00", issue_date=datetime.date(2026, 10, 1))
    client.force_login(user)
    page = client.get(f"/facturas/{newer.number}/pagar/").text
    assert "Seleccione el Pago" in page and "$100.00" in page
    client.post("/pagos/nuevo/", {"invoice": newer.number, "method": "reference:cash"})
    payment = Payment.objects.get()
    assert payment.invoice == newer and payment.amount == Decimal("100.00")
    payment_confirm(
        payment_id=payment.pk,
        amount=Decimal("100.00"),
        currency="MXN",
        paid_at=timezone.now(),
        source="test",
    )
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.amount_paid, newer.amount_paid) == (Decimal("100.00"), Decimal("0.00"))
    assert ledger_balance(contract=contract) == Decimal("-100.00")


def test_promesa_de_pago_once_per_period(kona, client):
    from tests.factories import ContractFactory

    user = UserFactory(provider=kona)
    contract = ContractFactory(
        provider=kona, user=user, paid_until=kona.today() - datetime.timedelta(days=1)
    )
    client.force_login(user)
    assert "Hacer una promesa de pago" in client.get("/").text
    client.post("/promesa-de-pago/")
    contract.refresh_from_db()
    assert contract.promise_until == kona.today() + datetime.timedelta(days=3)
    page = client.get("/").text
    assert "Hacer una promesa de pago" not in page
    assert re.search(r"Promesa de pago: tu servicio sigue activo hasta el \d\d/\d\d/\d{4}", page)
    statement = client.get("/estado-de-cuenta/").text
    assert "Promesa de pago hasta el" in statement
    response = client.post("/promesa-de-pago/")
    assert contract.promises.count() == 1
    assert response.status_code == 302


@pytest.mark.parametrize("field", ["plan", "invoice"])
@pytest.mark.parametrize("value", ["²", "abc", "9" * 40, ""])
def test_a_bad_plan_or_invoice_number_is_404_not_500(juan, reference_account, client, field, value):
    client.force_login(juan)
    response = client.post("/pagos/nuevo/", {field: value, "method": "reference:cash"})
    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_the_reference_is_shown_in_groups_for_reading_aloud(client, juan, reference_account):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    buy(client, plan)
    reference = Payment.objects.get().reference

    page = client.get(f"/pagos/{Payment.objects.get().public_id}/").text

    grouped = f"{reference[:4]} {reference[4:8]} {reference[8:12]} {reference[12:]}"
    assert f'data-testid="reference">{grouped}</p>' in page
    assert digits_grouped(reference) == grouped
