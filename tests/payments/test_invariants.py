"""Purchases, payments, retries, expiries and promises in any order keep the books right."""

import contextlib
import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Max, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from billing.models import LedgerEntry, ServicePeriod
from billing.selectors import ledger_balance
from payments.gateways import PaymentUrls
from payments.models import GatewayAccount, Payment
from payments.services import (
    PaymentError,
    payment_cancel,
    payment_confirm,
    payment_promise_make,
    payment_start,
    payments_expire,
)
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory

URLS = PaymentUrls(
    success="http://testserver/ok",
    cancel="http://testserver/no",
    notification="http://testserver/hook",
)


def _prepaid_contract():
    provider = ProviderFactory()
    GatewayAccount.objects.create(provider=provider, gateway="reference", expiry_days=3)
    zone = ZoneFactory(provider=provider)
    plans = [
        PlanFactory(provider=provider, price=Decimal(price), period_days=days)
        for price, days in (("250.00", 30), ("350.00", 15))
    ]
    for plan in plans:
        plan.zones.add(zone)
    user = UserFactory(provider=provider)
    contract = ContractFactory(
        provider=provider, user=user, zone=zone, plan=plans[0], paid_until=None
    )
    return contract, plans, user


class Books(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.contract, self.plans, self.user = _prepaid_contract()
        self.credited_ids: set[int] = set()

    def _payments(self):
        return list(Payment.objects.filter(contract=self.contract).order_by("pk"))

    @rule(plan_index=st.integers(0, 1))
    def purchase(self, plan_index):
        payment_start(
            contract=self.contract,
            gateway="reference",
            method="cash",
            plan=self.plans[plan_index],
            urls_for=lambda p: URLS,
        )

    @rule(index=st.integers(0, 20), retries=st.integers(1, 3), late=st.booleans())
    def pay(self, index, retries, late):
        payments = self._payments()
        if not payments:
            return
        payment = payments[index % len(payments)]
        paid_at = timezone.now() + (datetime.timedelta(days=5) if late else datetime.timedelta())
        for _ in range(retries):
            result = payment_confirm(
                payment_id=payment.pk,
                amount=payment.amount,
                currency="MXN",
                paid_at=paid_at,
                source="test",
            )
            if result.outcome == "credited":
                assert payment.pk not in self.credited_ids
                self.credited_ids.add(payment.pk)

    @rule(index=st.integers(0, 20))
    def pay_wrong_amount(self, index):
        payments = [p for p in self._payments() if p.status == "pending"]
        if payments:
            payment = payments[index % len(payments)]
            result = payment_confirm(
                payment_id=payment.pk,
                amount=payment.amount + 1,
                currency="MXN",
                paid_at=timezone.now(),
                source="test",
            )
            assert result.outcome == "held"

    @rule(index=st.integers(0, 20))
    def cancel(self, index):
        payments = self._payments()
        if payments:
            with contextlib.suppress(PaymentError):
                payment_cancel(payment=payments[index % len(payments)], actor=self.user)

    @rule()
    def expire_all(self):
        payments_expire(now=timezone.now() + datetime.timedelta(days=4))

    @rule()
    def promise(self):
        with contextlib.suppress(PaymentError):
            payment_promise_make(contract=self.contract, actor=self.user)

    @invariant()
    def balance_is_the_sum_of_entries(self):
        total = LedgerEntry.objects.filter(contract=self.contract).aggregate(t=Sum("amount"))["t"]
        assert ledger_balance(contract=self.contract) == (total or Decimal("0")).quantize(
            Decimal("0.01")
        )

    @invariant()
    def each_payment_credited_at_most_once(self):
        paid = Payment.objects.filter(contract=self.contract, status="paid")
        assert set(paid.values_list("pk", flat=True)) == self.credited_ids
        payment_entries = LedgerEntry.objects.filter(contract=self.contract, kind="payment")
        assert payment_entries.count() == len(self.credited_ids)
        assert paid.filter(ledger_entry__isnull=True).count() == 0

    @invariant()
    def vigencia_is_the_end_of_the_last_period(self):
        self.contract.refresh_from_db()
        last = ServicePeriod.objects.filter(contract=self.contract).aggregate(e=Max("ends_on"))["e"]
        assert self.contract.paid_until == last
        assert ServicePeriod.objects.filter(contract=self.contract).count() == len(
            self.credited_ids
        )


@pytest.mark.django_db
def test_the_books_hold_under_any_sequence():
    run_state_machine_as_test(
        Books,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        ),
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_different_payments_for_one_contract_at_once_both_extend_vigencia():
    contract, plans, _user = _prepaid_contract()
    payments = [
        payment_start(
            contract=contract,
            gateway="reference",
            method="cash",
            plan=plan,
            urls_for=lambda p: URLS,
        )
        for plan in plans
    ]
    barrier = threading.Barrier(2)
    outcomes = []

    def pay(payment):
        barrier.wait()
        try:
            outcomes.append(
                payment_confirm(
                    payment_id=payment.pk,
                    amount=payment.amount,
                    currency="MXN",
                    paid_at=timezone.now(),
                    source="race",
                ).outcome
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(p,)) for p in payments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["credited", "credited"]
    contract.refresh_from_db()
    assert contract.paid_until == contract.provider.today() + datetime.timedelta(days=45)
    assert ServicePeriod.objects.filter(contract=contract).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_confirmations_of_one_payment_at_once_credit_once():
    contract, plans, _user = _prepaid_contract()
    payment = payment_start(
        contract=contract,
        gateway="reference",
        method="cash",
        plan=plans[0],
        urls_for=lambda p: URLS,
    )
    barrier = threading.Barrier(20)
    outcomes = []

    def pay():
        barrier.wait()
        try:
            outcomes.append(
                payment_confirm(
                    payment_id=payment.pk,
                    amount=payment.amount,
                    currency="MXN",
                    paid_at=timezone.now(),
                    source="race",
                ).outcome
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_paid"] * 19 + ["credited"]
    assert LedgerEntry.objects.filter(contract=contract, kind="payment").count() == 1
