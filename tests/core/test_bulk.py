"""rows_insert and rows_update write what bulk_create and save would, on either database."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, transaction

from billing.models import LedgerEntry, ServicePeriod
from core.bulk import rows_insert, rows_update
from payments.models import Payment
from tests.factories import ContractFactory

pytestmark = pytest.mark.django_db

PAID_AT = datetime.datetime(2026, 11, 23, 15, 30, 5, 123000, tzinfo=datetime.UTC)


@pytest.fixture
def contract():
    return ContractFactory(paid_until=None)


def _entry(contract, amount, **fields):
    return LedgerEntry(
        provider_id=contract.provider_id,
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal(amount),
        currency="MXN",
        occurred_on=datetime.date(2026, 11, 23),
        description=fields.pop("description", "Pago Referencia de pago 11100000000017"),
        **fields,
    )


def test_inserted_rows_get_their_ids_in_order_and_read_back_the_same(contract):
    entries = [_entry(contract, "250.00"), _entry(contract, "-250.00", reason="ñandú · 50%")]

    inserted = rows_insert(LedgerEntry, objects=entries)

    assert inserted == entries
    assert entries[0].pk < entries[1].pk
    assert not entries[0]._state.adding
    rows = list(
        LedgerEntry.objects.order_by("pk").values_list(
            "pk", "amount", "reason", "occurred_on", "invoice", "created_by"
        )
    )
    assert rows == [
        (entries[0].pk, Decimal("250.00"), "", datetime.date(2026, 11, 23), None, None),
        (entries[1].pk, Decimal("-250.00"), "ñandú · 50%", datetime.date(2026, 11, 23), None, None),
    ]
    assert LedgerEntry.objects.get(pk=entries[0].pk).created_at is not None


def test_an_object_saved_after_it_was_assigned_is_linked_by_its_new_id(contract):
    entry = _entry(contract, "250.00")
    period = ServicePeriod(
        contract=contract,
        plan=contract.plan,
        starts_on=datetime.date(2026, 11, 23),
        ends_on=datetime.date(2026, 12, 23),
        paid_by=entry,
        description="Plan Básico 30 días",
    )
    rows_insert(LedgerEntry, objects=[entry])

    rows_insert(ServicePeriod, objects=[period])

    assert ServicePeriod.objects.get().paid_by_id == entry.pk


def test_an_unsaved_related_object_is_refused(contract):
    period = ServicePeriod(
        contract=contract,
        plan=contract.plan,
        starts_on=datetime.date(2026, 11, 23),
        ends_on=datetime.date(2026, 12, 23),
        paid_by=_entry(contract, "250.00"),
        description="x",
    )
    with pytest.raises(ValueError, match="paid_by"):
        rows_insert(ServicePeriod, objects=[period])
    assert period.pk is None
    assert not ServicePeriod.objects.exists()


def test_a_broken_constraint_is_an_integrity_error_and_writes_nothing(contract):
    first = _entry(contract, "250.00")
    rows_insert(LedgerEntry, objects=[first])
    reversal = _entry(contract, "-250.00", reverses=first)
    again = _entry(contract, "-250.00", reverses=first)  # an entry is reversed once

    with pytest.raises(IntegrityError), transaction.atomic():
        rows_insert(LedgerEntry, objects=[reversal, again])

    assert LedgerEntry.objects.count() == 1


def _payment(contract, reference):
    return Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        method=f"cash-{reference}",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference=reference,
    )


def test_each_row_gets_its_own_values_and_no_other_row_changes(contract):
    paid, held, _untouched = (_payment(contract, reference) for reference in ("1", "2", "3"))
    entry = _entry(contract, "250.00")
    rows_insert(LedgerEntry, objects=[entry])
    paid.status, paid.paid_at, paid.paid_amount, paid.ledger_entry = "paid", PAID_AT, 250, entry
    held.status, held.paid_at, held.paid_amount = "held", None, Decimal("199.99")

    updated = rows_update(
        Payment, objects=[paid, held], fields=["status", "paid_at", "paid_amount", "ledger_entry"]
    )

    assert updated == 2
    rows = {
        row[0]: row[1:]
        for row in Payment.objects.values_list(
            "reference", "status", "paid_at", "paid_amount", "ledger_entry"
        )
    }
    assert rows == {
        "1": ("paid", PAID_AT, Decimal("250.00"), entry.pk),
        "2": ("held", None, Decimal("199.99"), None),
        "3": ("pending", None, None, None),
    }


def test_times_in_another_zone_and_all_empty_values_are_written_as_they_are(contract):
    mexico = zoneinfo.ZoneInfo("America/Mexico_City")
    first, second = (_payment(contract, reference) for reference in ("1", "2"))
    first.paid_at = datetime.datetime(2026, 11, 23, 23, 30, tzinfo=mexico)
    second.paid_at = datetime.datetime(2026, 11, 24, 0, 15, tzinfo=mexico)

    rows_update(Payment, objects=[first, second], fields=["paid_at", "ledger_entry"])

    assert list(Payment.objects.order_by("reference").values_list("paid_at", "ledger_entry")) == [
        (datetime.datetime(2026, 11, 24, 5, 30, tzinfo=datetime.UTC), None),
        (datetime.datetime(2026, 11, 24, 6, 15, tzinfo=datetime.UTC), None),
    ]


@pytest.mark.postgres
def test_a_value_too_long_is_refused_not_cut(contract):
    payment = _payment(contract, "1")
    payment.status = "pendiente de revisión"  # the column holds 10 characters

    with pytest.raises(DataError), transaction.atomic():
        rows_update(Payment, objects=[payment], fields=["status"])

    assert Payment.objects.get().status == "pending"


def test_a_row_given_its_id_keeps_it(contract):
    entry = _entry(contract, "250.00", pk=987654)

    rows_insert(LedgerEntry, objects=[entry])

    assert LedgerEntry.objects.get().pk == 987654


def test_more_rows_than_one_statement_holds(contract):
    payments = [_payment(contract, str(number)) for number in range(1, 1203)]
    for number, payment in enumerate(payments):
        payment.paid_amount = Decimal(number) / 100

    assert rows_update(Payment, objects=payments, fields=["paid_amount"]) == 1202

    assert Payment.objects.get(reference="1202").paid_amount == Decimal("12.01")


# --- field__any: field__in as one array on PostgreSQL ----------------------------------


def test_any_finds_what_in_finds(contract):
    payments = [_payment(contract, str(number)) for number in range(1, 8)]
    wanted = {"2", "5", "7", "no such reference", ""}

    found = Payment.objects.filter(reference__any=wanted)

    assert set(found.values_list("reference", flat=True)) == {"2", "5", "7"}
    assert set(found) == set(Payment.objects.filter(reference__in=wanted))
    assert set(Payment.objects.filter(pk__any=[payments[0].pk, payments[3].pk])) == {
        payments[0],
        payments[3],
    }


def test_any_of_nothing_finds_nothing_without_asking_the_database(
    contract, django_assert_num_queries
):
    _payment(contract, "1")

    with django_assert_num_queries(0):
        assert list(Payment.objects.filter(pk__any=[])) == []


def test_any_on_a_foreign_key_takes_ids_or_objects(contract):
    other = ContractFactory(provider=contract.provider, number="9001", paid_until=None)
    mine, theirs = _payment(contract, "1"), _payment(other, "2")

    assert list(Payment.objects.filter(contract__any=[contract])) == [mine]
    assert list(Payment.objects.filter(contract_id__any={other.pk})) == [theirs]
    assert list(Payment.objects.exclude(contract__any=[contract.pk])) == [theirs]


@pytest.mark.postgres
def test_a_value_longer_than_the_column_matches_nothing(contract):
    # A cast to the column's varchar(40) would cut it to the 40 characters of a reference
    # that exists, and find it.
    payment = _payment(contract, "1")
    Payment.objects.filter(pk=payment.pk).update(reference="1" * 40)

    assert not Payment.objects.filter(reference__any=["1" * 41]).exists()
    assert Payment.objects.filter(reference__any=["1" * 40]).exists()


@pytest.mark.postgres
def test_on_postgresql_the_values_go_as_one_parameter(contract, django_assert_num_queries):
    ids = [_payment(contract, str(number)).pk for number in range(1, 501)]

    with django_assert_num_queries(1) as captured:
        assert Payment.objects.filter(pk__any=ids).count() == 500

    assert "= ANY(CAST(" in captured.captured_queries[0]["sql"]
