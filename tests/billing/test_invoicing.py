"""Postpaid invoices on each contract's billing day: once per period, without gaps, the
29th to the 31st on a shorter month's last day, a second due date with its surcharge."""

import datetime
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from billing.invoicing import billing_date, invoices_issue_due
from billing.models import Invoice
from plans.models import Plan
from tests.factories import ContractFactory, ProviderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def interatos():
    return ProviderFactory(
        code="222",
        name="Interatos",
        handle_domain="interatos",
        country="AR",
        currency="ARS",
        locale="es_AR",
        time_zone="America/Argentina/Cordoba",
        billing_day=1,
        invoice_due_days=10,
    )


def _postpaid(provider, **kwargs):
    plan, _created = Plan.objects.get_or_create(
        provider=provider,
        name="PLAN 6 MEGAS",
        defaults={"download_mbps": 6, "upload_mbps": 1, "price": Decimal("2590.00")},
    )
    return ContractFactory(
        provider=provider, plan=plan, billing_mode="postpaid", paid_until=None, **kwargs
    )


def _each_day(provider, first: datetime.date, last: datetime.date) -> int:
    issued, day = 0, first
    while day <= last:
        issued += invoices_issue_due(provider=provider, on=day)
        day += datetime.timedelta(days=1)
    return issued


@pytest.mark.parametrize(
    ("day", "year", "month", "expected"),
    [
        (31, 2027, 2, datetime.date(2027, 2, 28)),
        (29, 2028, 2, datetime.date(2028, 2, 29)),
        (31, 2026, 4, datetime.date(2026, 4, 30)),
        (30, 2026, 12, datetime.date(2026, 12, 30)),
    ],
)
def test_a_billing_day_past_the_months_end_falls_on_its_last_day(day, year, month, expected):
    assert billing_date(day=day, year=year, month=month) == expected


def test_every_day_of_a_month_issues_each_contract_once_on_its_day(interatos):
    first = _postpaid(interatos)  # the ISP's day: the 1st
    on_31st = _postpaid(interatos, billing_day=31)
    prepaid = ContractFactory(provider=interatos)

    assert _each_day(interatos, datetime.date(2027, 2, 1), datetime.date(2027, 2, 28)) == 2
    assert _each_day(interatos, datetime.date(2027, 2, 1), datetime.date(2027, 2, 28)) == 0

    invoice = Invoice.objects.get(contract=on_31st)
    assert (invoice.issue_date, invoice.period_start, invoice.period_end) == (
        datetime.date(2027, 2, 28),
        datetime.date(2027, 2, 28),
        datetime.date(2027, 3, 30),
    )
    invoice = Invoice.objects.get(contract=first)
    assert (invoice.period_end, invoice.due_date, invoice.total) == (
        datetime.date(2027, 2, 28),
        datetime.date(2027, 2, 11),
        Decimal("2590.00"),
    )
    assert not Invoice.objects.filter(contract=prepaid).exists()


def test_a_second_due_date_carries_the_isps_surcharge(interatos):
    interatos.second_due_days = 10
    interatos.second_due_surcharge = Decimal("5.00")
    interatos.save()
    _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    invoice = Invoice.objects.get()
    assert (invoice.due_date, invoice.second_due_date, invoice.second_due_total) == (
        datetime.date(2027, 3, 11),
        datetime.date(2027, 3, 21),
        Decimal("2719.50"),
    )


def test_the_command_issues_for_a_date_and_refuses_a_bad_one(interatos, capsys):
    from django.core.management.base import CommandError

    _postpaid(interatos)
    call_command("invoices_issue", "--provider", "222", "--date", "2027-03-01")
    assert "Facturas emitidas: 1." in capsys.readouterr().out
    with pytest.raises(CommandError, match="no es una fecha"):
        call_command("invoices_issue", "--date", "01/03/2027")
    assert Invoice.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_issue_each_invoice_once_and_numbers_stay_gapless(interatos):
    for _ in range(12):
        _postpaid(interatos)
    errors = []

    def run():
        try:
            invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(numbers[0], numbers[0] + 12))
    assert Invoice.objects.values("contract").distinct().count() == 12


def test_an_unpaid_invoice_cuts_service_after_the_isps_days_and_paying_restores_it(interatos):
    from billing.models import ServiceChange
    from billing.recompute import contracts_recompute
    from payments.models import Payment
    from payments.services import PaymentReport, payments_confirm

    interatos.suspend_after_days = 5
    interatos.save()
    contract = _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))  # due the 11th
    invoice = Invoice.objects.get()

    def status_on(day: int) -> str:
        now = datetime.datetime(2027, 3, day, 15, 0, tzinfo=datetime.UTC)
        contracts_recompute(provider=interatos, now=now)
        contract.refresh_from_db()
        return contract.status

    assert status_on(15) == "active"
    assert status_on(16) == "suspended"
    payment = Payment.objects.create(
        provider=interatos,
        contract=contract,
        gateway="reference",
        invoice=invoice,
        amount=invoice.total,
        currency="ARS",
        reference="22200000000019",
    )
    payments_confirm(
        reports=[
            PaymentReport(
                payment_id=payment.pk,
                amount=invoice.total,
                currency="ARS",
                paid_at=datetime.datetime.now(tz=datetime.UTC),
            )
        ],
        source="agent",
    )
    contract.refresh_from_db()
    assert contract.status == "active"
    events = ServiceChange.objects.filter(contract=contract).order_by("pk")
    assert list(events.values_list("event", "reason")) == [
        ("contract.suspended", "sin_credito"),
        ("contract.reactivated", "pago"),
    ]


def test_the_subscriber_is_told_of_the_invoice_once_in_the_isps_voice(interatos):
    from notifications.models import Notification

    _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    invoice = Invoice.objects.get()
    (notice,) = Notification.objects.filter(kind="invoice_issued")
    assert notice.body == (
        f"Interatos: su factura Nº {invoice.number} por $2.590,00 vence el 11/03/2027. "
        "Descárguela y abónela en su portal."
    )


def test_a_running_discount_is_a_line_of_the_invoice(interatos):
    from plans.models import Promotion

    _postpaid(interatos)
    Promotion.objects.create(
        provider=interatos,
        title="Verano 10 %",
        starts_on=datetime.date(2027, 2, 1),
        ends_on=datetime.date(2027, 3, 31),
        effect=Promotion.Effect.DISCOUNT,
        discount_percent=10,
    )
    with time_machine.travel(datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)):
        invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    invoice = Invoice.objects.get()
    lines = list(invoice.lines.values_list("description", "amount"))
    assert lines[1] == ("Verano 10 %", Decimal("-259.00"))
    assert invoice.total == Decimal("2331.00")


def _plan(provider, name: str, price: str) -> Plan:
    return Plan.objects.create(
        provider=provider, name=name, download_mbps=20, upload_mbps=2, price=Decimal(price)
    )


def _plan_changed(contract, plan, *, on: datetime.datetime) -> None:
    from billing.services import ServiceOrder, service_orders_apply

    with time_machine.travel(on):
        service_orders_apply(orders=[ServiceOrder(contract=contract, plan=plan)], actor=None)


def test_a_plan_changed_mid_period_is_prorated_on_the_next_invoice(interatos):
    contract = _postpaid(interatos)
    better = _plan(interatos, "PLAN 20 MEGAS", "4000.00")
    with time_machine.travel(datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)):
        invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    # The 21st of March in Córdoba (UTC−3): 11 of March's 31 days on the better plan.
    _plan_changed(contract, better, on=datetime.datetime(2027, 3, 21, 12, 0, tzinfo=datetime.UTC))

    with time_machine.travel(datetime.datetime(2027, 4, 1, 15, 0, tzinfo=datetime.UTC)):
        invoices_issue_due(provider=interatos, on=datetime.date(2027, 4, 1))

    april = Invoice.objects.get(period_start=datetime.date(2027, 4, 1))
    assert list(april.lines.values_list("description", "amount")) == [
        ("PLAN 20 MEGAS · 01/04/2027 – 30/04/2027", Decimal("4000.00")),
        (
            "Cambio de plan PLAN 6 MEGAS → PLAN 20 MEGAS desde el 21/03/2027 (11 de 31 días)",
            Decimal("500.32"),  # (4000 − 2590) × 11 / 31
        ),
    ]
    assert april.total == Decimal("4500.32")


def test_a_change_before_the_period_was_billed_is_not_prorated(interatos):
    contract = _postpaid(interatos)
    better = _plan(interatos, "PLAN 20 MEGAS", "4000.00")
    _plan_changed(contract, better, on=datetime.datetime(2027, 2, 20, 12, 0, tzinfo=datetime.UTC))
    for day in (3, 4):
        with time_machine.travel(datetime.datetime(2027, day, 1, 15, 0, tzinfo=datetime.UTC)):
            invoices_issue_due(provider=interatos, on=datetime.date(2027, day, 1))

    assert [invoice.total for invoice in Invoice.objects.order_by("period_start")] == [
        Decimal("4000.00"),
        Decimal("4000.00"),
    ]


def test_a_credit_larger_than_the_next_invoice_is_left_to_staff(interatos):
    contract = _postpaid(interatos)
    lesser = _plan(interatos, "PLAN 1 MEGA", "1000.00")
    with time_machine.travel(datetime.datetime(2027, 3, 1, 15, 0, tzinfo=datetime.UTC)):
        invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    _plan_changed(contract, lesser, on=datetime.datetime(2027, 3, 2, 12, 0, tzinfo=datetime.UTC))

    with time_machine.travel(datetime.datetime(2027, 4, 1, 15, 0, tzinfo=datetime.UTC)):
        invoices_issue_due(provider=interatos, on=datetime.date(2027, 4, 1))

    april = Invoice.objects.get(period_start=datetime.date(2027, 4, 1))
    assert april.total == Decimal("1000.00")
    assert april.lines.count() == 1


def _reminders_on(day: int) -> list[str]:
    """The reminders of an invoice sent on that day of March 2027, at 15:00 in Córdoba."""
    from accounts import sms
    from notifications.services import notifications_deliver
    from payments.reminders import reminders_send

    with time_machine.travel(datetime.datetime(2027, 3, day, 18, 0, tzinfo=datetime.UTC)):
        reminders_send()
        reminders_send()  # the hourly job again: nothing new
        notifications_deliver()
    sent = [message.body for message in sms.outbox if "Abónela" in message.body]
    sms.outbox.clear()
    return sent


def test_an_invoice_is_reminded_seven_three_one_and_zero_days_before_it_falls_due(interatos):
    from payments.models import Payment

    contract = _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))  # due the 11th
    invoice = Invoice.objects.get()
    Payment.objects.create(
        provider=interatos,
        contract=contract,
        gateway="reference",
        invoice=invoice,
        amount=invoice.total,
        currency="ARS",
        reference="22200000000019",
    )

    reminded = {day: _reminders_on(day) for day in range(2, 13)}

    assert [day for day, sent in reminded.items() if sent] == [4, 8, 10, 11]
    assert reminded[8] == [
        f"Interatos: su factura Nº {invoice.number} por $2.590,00 vence el 11/03/2027. "
        "Abónela con la referencia 2220 0000 0000 19."
    ]


def test_an_invoice_paid_before_the_morning_is_not_reminded(
    interatos, django_capture_on_commit_callbacks
):
    from notifications.models import Notification
    from payments.models import Payment
    from payments.reminders import reminders_send
    from payments.services import PaymentReport, payments_confirm

    contract = _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    invoice = Invoice.objects.get()
    # 01:00 in Córdoba on the 8th: the three-day reminder waits for 08:00.
    with time_machine.travel(datetime.datetime(2027, 3, 8, 4, 0, tzinfo=datetime.UTC)):
        assert reminders_send() == 1
        payment = Payment.objects.create(
            provider=interatos,
            contract=contract,
            gateway="reference",
            invoice=invoice,
            amount=invoice.total,
            currency="ARS",
            reference="22200000000019",
        )
        with django_capture_on_commit_callbacks(execute=True):
            payments_confirm(
                reports=[
                    PaymentReport(
                        payment_id=payment.pk,
                        amount=invoice.total,
                        currency="ARS",
                        paid_at=datetime.datetime.now(tz=datetime.UTC),
                    )
                ],
                source="agent",
            )

    assert _reminders_on(8) == []
    assert Notification.objects.get(kind="invoice_reminder").status == "skipped"
    assert _reminders_on(10) == []  # paid: no later reminder either


def test_a_voided_invoice_is_not_reminded(interatos):
    from billing.services import invoice_void
    from payments.reminders import reminders_send

    _postpaid(interatos)
    invoices_issue_due(provider=interatos, on=datetime.date(2027, 3, 1))
    with time_machine.travel(datetime.datetime(2027, 3, 4, 4, 0, tzinfo=datetime.UTC)):
        reminders_send()  # written at night, held until 08:00
    invoice_void(invoice=Invoice.objects.get(), reason="Alta duplicada", created_by=None)

    assert _reminders_on(4) == []
    assert _reminders_on(8) == []
