"""Where a postpaid account stands on Inicio: its balance and the payment promise for its
oldest overdue invoice, read in one query (docs/performance.md, issue 14)."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry, ServiceHold
from billing.selectors import ledger_balance
from billing.services import invoices_settle, ledger_record
from payments.selectors import account_standing
from tests.billing.factories import issue
from tests.factories import ContractFactory, UserFactory

pytestmark = pytest.mark.django_db

NOON_IN_MEXICO = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=datetime.UTC)


def _postpaid(kona):
    user = UserFactory(provider=kona)
    contract = ContractFactory(provider=kona, user=user, billing_mode="postpaid")
    return user, contract


def _paid(contract, amount):
    """A payment as the crediting service books it: in the ledger, then on the open
    invoices, oldest due first."""
    ledger_record(
        contract=contract, kind=LedgerEntry.Kind.PAYMENT, amount=Decimal(amount), description="Pago"
    )
    invoices_settle(credits=[(contract.pk, Decimal(amount))])


def test_inicio_offers_a_promise_for_the_oldest_overdue_invoice_once(kona, client):
    with time_machine.travel(NOON_IN_MEXICO, tick=False):
        user, contract = _postpaid(kona)
        issue(contract, amount="300.00", issue_date=datetime.date(2026, 9, 1))
        _paid(contract, "300.00")
        october = issue(contract, amount="300.00", issue_date=datetime.date(2026, 10, 1))
        _paid(contract, "100.00")
        issue(contract, amount="300.00", issue_date=datetime.date(2026, 12, 1))
        client.force_login(user)

        page = client.get("/").text
        assert "Hacer una promesa de pago" in page
        assert ">-$500.00<" in page, page  # 900 invoiced, 400 paid
        standing = account_standing(contract=contract)
        assert (standing.overdue_invoice, standing.promises_used) == (october.number, 0)
        assert standing.balance == ledger_balance(contract=contract) == Decimal("-500.00")

        client.post("/promesa-de-pago/")
        assert [p.period_key for p in contract.promises.all()] == [f"factura:{october.number}"]
        assert "Hacer una promesa de pago" not in client.get("/").text

    # The promise's three days are over and October is still unpaid: it had its promise.
    with time_machine.travel(NOON_IN_MEXICO + datetime.timedelta(days=4), tick=False):
        contract.refresh_from_db()
        assert account_standing(contract=contract).promises_used == 1
        assert "Hacer una promesa de pago" not in client.get("/").text
        _paid(contract, "200.00")
        # December's invoice falls due on the 21st: none is overdue, nothing to promise.
        assert account_standing(contract=contract).overdue_invoice is None
        assert "Hacer una promesa de pago" not in client.get("/").text

    # December's invoice is past due: a new period, a new promise.
    with time_machine.travel(NOON_IN_MEXICO + datetime.timedelta(days=12), tick=False):
        standing = account_standing(contract=contract)
        assert (standing.promises_used, standing.balance) == (0, Decimal("-300.00"))
        assert "Hacer una promesa de pago" in client.get("/").text


def test_a_contract_held_by_the_isp_is_offered_no_promise(kona, client):
    with time_machine.travel(NOON_IN_MEXICO, tick=False):
        user, contract = _postpaid(kona)
        issue(contract, issue_date=datetime.date(2026, 10, 1))
        contract.status = contract.Status.SUSPENDED
        contract.save(update_fields=["status"])
        client.force_login(user)
        assert "Hacer una promesa de pago" in client.get("/").text
        ServiceHold.objects.create(contract=contract, reason="Fraude")
        assert account_standing(contract=contract).on_hold is True
        assert "Hacer una promesa de pago" not in client.get("/").text


def test_a_prepaid_promise_counts_the_vigencia_that_ran_out(kona, client):
    with time_machine.travel(NOON_IN_MEXICO, tick=False):
        user = UserFactory(provider=kona)
        contract = ContractFactory(provider=kona, user=user, paid_until=datetime.date(2026, 12, 9))
        contract.promises.create(
            period_key="vigencia:2026-11-09",
            starts_on=datetime.date(2026, 11, 9),
            ends_on=datetime.date(2026, 11, 12),
        )
        assert account_standing(contract=contract).promises_used == 0
        contract.promises.create(
            period_key="vigencia:2026-12-09",
            starts_on=datetime.date(2026, 12, 9),
            ends_on=datetime.date(2026, 12, 9),
        )
        assert account_standing(contract=contract).promises_used == 1
        client.force_login(user)
        assert "Hacer una promesa de pago" not in client.get("/").text


def test_inicio_postpaid_reads_the_account_in_two_queries(kona, client):
    """The last invoice, then the balance, overdue invoice, promises and hold in one."""
    with time_machine.travel(NOON_IN_MEXICO, tick=False):
        user, contract = _postpaid(kona)
        issue(contract, issue_date=datetime.date(2026, 10, 1))
        client.force_login(user)
        client.get("/")
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if any(
            f'FROM "{table}"' in query["sql"]
            for table in ("billing_invoice", "billing_ledgerentry", "payments_paymentpromise")
        )
    ]
    assert len(reads) == 2, reads
