"""The ledger is append-only; the balance is the sum of its entries, whatever happens."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, LedgerEntry
from billing.selectors import ledger_balance
from billing.services import (
    BillingError,
    invoice_void,
    invoices_settle,
    ledger_adjust,
    ledger_record,
    ledger_reverse,
)
from core.models import AppendOnlyError
from tests.factories import ContractFactory, UserFactory

from .factories import issue

pytestmark = pytest.mark.django_db


def test_entries_cannot_be_edited_or_deleted():
    entry = ledger_record(
        contract=ContractFactory(),
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal("100"),
        description="Pago",
    )
    entry.amount = Decimal("1000")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    assert LedgerEntry.objects.get().amount == Decimal("100.00")


def test_a_reversal_cancels_an_entry_once_and_says_who_and_why():
    contract = ContractFactory()
    staff = UserFactory(provider=None, username="ana", is_staff=True)
    entry = ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal("250.00"),
        description="Pago OxxoPay",
    )
    reversal = ledger_reverse(entry=entry, created_by=staff, reason="pago duplicado")
    assert (reversal.amount, reversal.kind, reversal.created_by, reversal.reason) == (
        Decimal("-250.00"),
        "reversal",
        staff,
        "pago duplicado",
    )
    assert ledger_balance(contract=contract) == Decimal("0.00")
    with pytest.raises(BillingError):
        ledger_reverse(entry=entry, created_by=staff, reason="otra vez")
    assert LedgerEntry.objects.count() == 2


def test_an_adjustment_needs_a_reason_and_a_non_zero_amount():
    contract = ContractFactory()
    staff = UserFactory(provider=None, username="ana", is_staff=True)
    with pytest.raises(BillingError):
        ledger_adjust(contract=contract, amount=Decimal("10"), reason=" ", created_by=staff)
    with pytest.raises(BillingError):
        ledger_adjust(contract=contract, amount=Decimal("0.001"), reason="x", created_by=staff)
    assert not LedgerEntry.objects.exists()
    entry = ledger_adjust(
        contract=contract, amount=Decimal("-35.5"), reason="reconexión", created_by=staff
    )
    assert (entry.amount, entry.currency, entry.created_by) == (Decimal("-35.50"), "MXN", staff)


def test_issuing_charges_and_voiding_reverses():
    contract = ContractFactory()
    invoice = issue(contract, amount="2590.00")
    assert ledger_balance(contract=contract) == Decimal("-2590.00")
    invoice_void(invoice=invoice, reason="error de tarifa", created_by=None)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason, invoice.display_status()) == (
        "void",
        "error de tarifa",
        "void",
    )
    assert invoice.voided_at is not None
    assert ledger_balance(contract=contract) == Decimal("0.00")
    assert Invoice.objects.filter(pk=invoice.pk).exists()  # kept, never deleted
    with pytest.raises(BillingError):
        invoice_void(invoice=invoice, reason="otra vez", created_by=None)
    assert LedgerEntry.objects.count() == 2


def test_a_paid_invoice_cannot_be_voided():
    contract = ContractFactory()
    invoice = issue(contract, amount="100.00")
    invoices_settle(credits=[(invoice.contract_id, Decimal("100.00"))])
    with pytest.raises(BillingError):
        invoice_void(invoice=invoice, reason="x", created_by=None)
    invoice.refresh_from_db()
    assert invoice.status == "issued"


operations = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), st.decimals("0.01", "99999.99", places=2)),
        st.tuples(st.just("payment"), st.decimals("0.01", "99999.99", places=2)),
        st.tuples(st.just("adjust"), st.decimals("-5000", "5000", places=2).filter(bool)),
        st.tuples(st.just("invoice"), st.decimals("0.01", "9999.99", places=2)),
        st.tuples(st.just("reverse"), st.integers(0, 50)),
        st.tuples(st.just("void"), st.integers(0, 10)),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_balance_is_always_the_sum_of_the_entries(steps):
    contract = ContractFactory()
    staff = UserFactory(provider=None, is_staff=True)
    expected = Decimal("0.00")
    invoices = []
    for action, value in steps:
        if action in ("charge", "payment"):
            sign = -1 if action == "charge" else 1
            ledger_record(contract=contract, kind=action, amount=sign * value, description=action)
            expected += sign * value
        elif action == "adjust":
            ledger_adjust(contract=contract, amount=value, reason="prueba", created_by=staff)
            expected += value
        elif action == "invoice":
            invoices.append(issue(contract, amount=str(value)))
            expected -= value
        elif action == "reverse":
            entries = list(LedgerEntry.objects.filter(contract=contract).order_by("pk"))
            if entries:
                entry = entries[value % len(entries)]
                try:
                    ledger_reverse(entry=entry, created_by=staff, reason="prueba")
                    expected -= entry.amount
                except BillingError:
                    pass
        elif action == "void" and invoices:
            invoice = invoices[value % len(invoices)]
            charge = invoice.ledger_entries.get(kind="charge")
            try:
                invoice_void(invoice=invoice, reason="prueba", created_by=staff)
                expected -= charge.amount
            except BillingError:
                pass
    total = sum(LedgerEntry.objects.filter(contract=contract).values_list("amount", flat=True))
    assert ledger_balance(contract=contract) == total == expected
    # Nothing is reversed twice.
    reversed_ids = list(
        LedgerEntry.objects.filter(contract=contract, reverses__isnull=False).values_list(
            "reverses_id", flat=True
        )
    )
    assert len(reversed_ids) == len(set(reversed_ids))


def test_an_invoice_charge_is_undone_by_voiding_not_by_reversing():
    contract = ContractFactory()
    invoice = issue(contract, amount="100.00")
    charge = invoice.ledger_entries.get()
    with pytest.raises(BillingError, match="anula la factura"):
        ledger_reverse(entry=charge, created_by=None, reason="error")
    invoice_void(invoice=invoice, reason="error", created_by=None)
    assert ledger_balance(contract=contract) == Decimal("0.00")
