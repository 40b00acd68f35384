"""payments_confirm: many reports in one call land exactly as they would one by one."""

import contextlib
import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, LedgerEntry, ServicePeriod
from billing.selectors import ledger_balance
from payments.models import Payment, PaymentEvent
from payments.services import PaymentReport, payment_confirm, payments_confirm
from tests.billing.factories import issue
from tests.factories import ContractFactory, PlanFactory, ProviderFactory

NOW = datetime.datetime(2026, 11, 23, 18, 0, tzinfo=datetime.UTC)


def _payment(
    contract, *, plan=None, invoice=None, amount="250.00", reference="", method="cash", **fields
):
    """A pending payment; one per contract, plan (or invoice) and method can be pending."""
    return Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        method=method,
        plan=plan,
        invoice=invoice,
        amount=Decimal(amount),
        currency=contract.provider.currency,
        reference=reference,
        expires_at=fields.get("expires_at") or timezone.now() + datetime.timedelta(days=3),
    )


def _report(payment, *, amount=None, currency="MXN", paid_at=None, note=""):
    return PaymentReport(
        payment_id=payment.pk,
        amount=Decimal(amount) if amount else payment.amount,
        currency=currency,
        paid_at=paid_at or timezone.now(),
        note=note,
    )


@pytest.fixture
def prepaid(kona):
    plan = PlanFactory(provider=kona, name="Plan Básico", price=Decimal("250.00"), period_days=30)
    return ContractFactory(provider=kona, plan=plan, paid_until=kona.today())


@pytest.mark.django_db
def test_two_payments_of_one_contract_in_one_call_stack_end_to_end(prepaid):
    first = _payment(prepaid, plan=prepaid.plan, reference="11100000000017")
    second = _payment(prepaid, plan=prepaid.plan, reference="11100000000025", method="oxxo")
    today = prepaid.provider.today()

    confirmations = payments_confirm(
        reports=[_report(first), _report(second)], source="settlement:1"
    )

    assert [c.outcome for c in confirmations] == ["credited", "credited"]
    prepaid.refresh_from_db()
    assert prepaid.paid_until == today + datetime.timedelta(days=60)
    periods = list(
        ServicePeriod.objects.exclude(paid_by=None)
        .order_by("pk")
        .values_list("starts_on", "ends_on")
    )
    assert periods == [
        (today, today + datetime.timedelta(days=30)),
        (today + datetime.timedelta(days=30), today + datetime.timedelta(days=60)),
    ]
    entries = list(LedgerEntry.objects.order_by("pk").values_list("kind", "amount"))
    assert entries == [
        ("payment", Decimal("250.00")),
        ("charge", Decimal("-250.00")),
        ("payment", Decimal("250.00")),
        ("charge", Decimal("-250.00")),
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.ledger_entry.description == "Pago Referencia de pago 11100000000017"
    assert (first.status, second.status) == ("paid", "paid")
    assert ServicePeriod.objects.get(paid_by=second.ledger_entry).starts_on == periods[1][0]


@pytest.mark.django_db
def test_one_payment_reported_twice_in_one_call_is_credited_once(prepaid):
    payment = _payment(prepaid, plan=prepaid.plan)

    confirmations = payments_confirm(
        reports=[_report(payment, note="folio A"), _report(payment, note="folio B")],
        source="settlement:1",
    )

    assert [c.outcome for c in confirmations] == ["credited", "already_paid"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert ServicePeriod.objects.exclude(paid_by=None).count() == 1
    events = list(payment.events.order_by("pk").values_list("kind", "note"))
    assert events == [("paid", "folio A"), ("duplicate", "folio B")]


@pytest.mark.django_db
def test_held_late_and_good_reports_in_one_call(kona, prepaid):
    other = ContractFactory(provider=kona, plan=prepaid.plan, paid_until=None)
    wrong_amount = _payment(prepaid, plan=prepaid.plan)
    expired = _payment(
        other, plan=prepaid.plan, expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    expired.status = Payment.Status.EXPIRED
    expired.save(update_fields=["status"])

    confirmations = payments_confirm(
        reports=[_report(wrong_amount, amount="200.00"), _report(expired)], source="agent"
    )

    assert [c.outcome for c in confirmations] == ["held", "credited"]
    wrong_amount.refresh_from_db()
    expired.refresh_from_db()
    assert (wrong_amount.status, wrong_amount.paid_amount) == ("held", Decimal("200.00"))
    assert wrong_amount.ledger_entry is None
    assert (expired.status, expired.paid_late) == ("paid", True)
    assert expired.events.get(kind="paid").note == "pagado después de vencer"
    prepaid.refresh_from_db()
    assert prepaid.paid_until == kona.today()  # the held payment extended nothing
    assert ledger_balance(contract=prepaid) == Decimal("0.00")


@pytest.mark.django_db
def test_postpaid_payments_in_one_call_settle_oldest_first(kona):
    contract = ContractFactory(provider=kona, billing_mode="postpaid")
    older = issue(contract, amount="100.00", issue_date=datetime.date(2026, 9, 1))
    newer = issue(contract, amount="100.00", issue_date=datetime.date(2026, 10, 1))
    for_newer = _payment(contract, invoice=newer, amount="100.00")
    for_older = _payment(contract, invoice=older, amount="150.00")

    payments_confirm(reports=[_report(for_newer), _report(for_older)], source="agent")

    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.amount_paid, newer.amount_paid) == (Decimal("100.00"), Decimal("100.00"))
    assert ledger_balance(contract=contract) == Decimal("50.00")  # overpayment is credit
    assert list(
        LedgerEntry.objects.filter(kind="payment").order_by("pk").values_list("invoice", "amount")
    ) == [(newer.pk, Decimal("100.00")), (older.pk, Decimal("150.00"))]


@pytest.mark.django_db
def test_a_payment_that_does_not_exist_changes_nothing(prepaid):
    payment = _payment(prepaid, plan=prepaid.plan)
    with pytest.raises(Payment.DoesNotExist):
        payments_confirm(
            reports=[_report(payment), PaymentReport(0, Decimal("1"), "MXN", timezone.now())],
            source="agent",
        )
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not LedgerEntry.objects.exists() and not PaymentEvent.objects.exists()


# What one call does must be what the same reports do one at a time: the settlement import
# sends hundreds at once, webhooks and agents one.
REPORT = st.tuples(
    st.integers(min_value=0, max_value=4),  # which payment
    st.sampled_from(["right", "short", "dollars"]),
    st.sampled_from(["before expiry", "after expiry"]),
)


def _books(contracts, payments) -> dict:
    """Everything a confirmation writes, without ids (they differ between runs)."""
    entry_index = {
        pk: index
        for index, pk in enumerate(LedgerEntry.objects.order_by("pk").values_list("pk", flat=True))
    }
    return {
        "payments": [
            Payment.objects.filter(pk=p.pk)
            .values_list("status", "paid_amount", "paid_late", "paid_at")
            .get()
            for p in payments
        ],
        "entries": list(
            LedgerEntry.objects.order_by("pk").values_list(
                "contract_id", "kind", "amount", "occurred_on", "description", "reason"
            )
        ),
        "payment entries": [
            entry_index.get(Payment.objects.get(pk=p.pk).ledger_entry_id) for p in payments
        ],
        "periods": list(
            ServicePeriod.objects.order_by("pk").values_list(
                "contract_id", "plan_id", "starts_on", "ends_on", "description"
            )
        ),
        "vigencias": [c.__class__.objects.get(pk=c.pk).paid_until for c in contracts],
        "invoices": list(Invoice.objects.order_by("pk").values_list("amount_paid")),
        "events": list(
            PaymentEvent.objects.order_by("pk").values_list("payment_id", "kind", "source", "note")
        ),
    }


class _Rollback(Exception):
    pass


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(reports=st.lists(REPORT, min_size=1, max_size=8))
def test_one_call_writes_what_one_at_a_time_writes(reports):
    # Each example builds its own ISP and rolls everything back at the end.
    with contextlib.suppress(_Rollback), transaction.atomic():
        provider = ProviderFactory()
        month = PlanFactory(provider=provider, price=Decimal("250.00"), period_days=30)
        fortnight = PlanFactory(provider=provider, price=Decimal("150.00"), period_days=15)
        lapsed = ContractFactory(provider=provider, plan=month, paid_until=None)
        running = ContractFactory(
            provider=provider, plan=month, paid_until=provider.today() + datetime.timedelta(9)
        )
        postpaid = ContractFactory(provider=provider, billing_mode="postpaid")
        invoices = [
            issue(postpaid, amount="100.00", issue_date=datetime.date(2026, 9, 1)),
            issue(postpaid, amount="100.00", issue_date=datetime.date(2026, 10, 1)),
        ]
        expires_at = timezone.now() + datetime.timedelta(days=1)
        payments = [
            _payment(lapsed, plan=month, expires_at=expires_at),
            _payment(lapsed, plan=fortnight, amount="150.00", expires_at=expires_at),
            _payment(running, plan=month, expires_at=expires_at),
            _payment(postpaid, invoice=invoices[1], amount="100.00", expires_at=expires_at),
            _payment(postpaid, invoice=invoices[0], amount="150.00", expires_at=expires_at),
        ]
        contracts = [lapsed, running, postpaid]
        asked = []
        for number, (index, amount, when) in enumerate(reports):
            payment = payments[index]
            asked.append(
                PaymentReport(
                    payment_id=payment.pk,
                    amount=payment.amount - (Decimal("1.00") if amount == "short" else 0),
                    currency="USD" if amount == "dollars" else "MXN",
                    paid_at=expires_at
                    + datetime.timedelta(hours=1 if when == "after expiry" else -1),
                    note=f"folio {number}",
                )
            )

        one_by_one = None
        with contextlib.suppress(_Rollback), transaction.atomic():
            outcomes = [
                payment_confirm(
                    payment_id=report.payment_id,
                    amount=report.amount,
                    currency=report.currency,
                    paid_at=report.paid_at,
                    source="settlement:1",
                    note=report.note,
                ).outcome
                for report in asked
            ]
            one_by_one = (outcomes, _books(contracts, payments))
            raise _Rollback
        together = payments_confirm(reports=asked, source="settlement:1")
        assert ([c.outcome for c in together], _books(contracts, payments)) == one_by_one
        raise _Rollback


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_calls_in_opposite_orders_neither_deadlock_nor_credit_twice(kona):
    plan = PlanFactory(provider=kona, price=Decimal("250.00"), period_days=30)
    contracts = [ContractFactory(provider=kona, plan=plan, paid_until=None) for _ in range(4)]
    payments = [
        _payment(contract, plan=plan, method=method)
        for contract in contracts
        for method in ("cash", "oxxo")
    ]
    reports = [_report(payment) for payment in payments]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def confirm(ordered):
        try:
            barrier.wait()
            results.append(payments_confirm(reports=ordered, source="test"))
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=confirm, args=(reports,)),
        threading.Thread(target=confirm, args=(list(reversed(reports)),)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    outcomes = sorted(c.outcome for result in results for c in result)
    assert outcomes == ["already_paid"] * 8 + ["credited"] * 8
    assert LedgerEntry.objects.filter(kind="payment").count() == 8
    for contract in contracts:
        contract.refresh_from_db()
        assert contract.paid_until == kona.today() + datetime.timedelta(days=60)
