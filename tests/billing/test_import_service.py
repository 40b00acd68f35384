"""The contract import gives service through periods and holds, so the recompute agrees
with it and importing the same file again changes nothing."""

import datetime
import io

import pytest
import time_machine

from accounts.models import Contract
from billing.imports import contracts_import
from billing.models import ServiceChange, ServiceHold, ServicePeriod
from billing.recompute import contracts_recompute
from tests.factories import PlanFactory, ProviderFactory, ZoneFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "provider_code,contract_number,holder_name,installation_address,phone,email,"
    "zone,plan,billing_mode,paid_until,status"
)
NOON = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def kona():
    provider = ProviderFactory(code="111", handle_domain="kona")
    zone = ZoneFactory(provider=provider, name="Centro")
    PlanFactory(provider=provider, name="Plan Básico", period_days=30)
    PlanFactory(provider=provider, name="Plan Avanzado", period_days=30)
    return provider, zone


def _import(*lines: str, header: str = HEADER):
    report = contracts_import(rows_file=io.BytesIO("\n".join([header, *lines]).encode()))
    assert report.errors == []
    return report


def _line(number="1001", plan="Plan Básico", paid_until="2026-12-20", status="active", extra=""):
    return (
        f"111,{number},Rosa,Calle 1,5512345678,,Centro,{plan},prepaid,{paid_until},{status}{extra}"
    )


@time_machine.travel(NOON, tick=False)
def test_a_vigencia_becomes_a_period_and_the_status_follows_it():
    _import(_line(), _line("1002", paid_until="2026-12-05"))

    rosa, past = Contract.objects.order_by("number")
    assert (rosa.paid_until, rosa.status) == (datetime.date(2026, 12, 20), "active")
    # A vigencia already passed: no credit, so no service, whatever the file says.
    assert (past.paid_until, past.status) == (datetime.date(2026, 12, 5), "suspended")
    period = ServicePeriod.objects.get(contract=rosa)
    assert (period.starts_on, period.ends_on) == (
        datetime.date(2026, 11, 20),
        datetime.date(2026, 12, 20),
    )


@time_machine.travel(NOON, tick=False)
def test_importing_the_same_file_after_a_recompute_changes_nothing():
    lines = (_line(), _line("1002", paid_until="2026-12-05"), _line("1003", status="suspended"))
    _import(*lines)
    contracts_recompute()
    before = list(Contract.objects.order_by("pk").values())
    changes = ServiceChange.objects.count()

    report = _import(*lines)

    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert list(Contract.objects.order_by("pk").values()) == before
    assert ServiceChange.objects.count() == changes
    assert ServicePeriod.objects.count() == 3


@time_machine.travel(NOON, tick=False)
def test_suspended_in_the_file_is_a_hold_and_active_lifts_it():
    _import(_line(status="suspended"))
    rosa = Contract.objects.get()
    hold = ServiceHold.objects.get(contract=rosa)
    assert (rosa.status, hold.lifted_at) == ("suspended", None)

    _import(_line(status="active"))

    rosa.refresh_from_db()
    hold.refresh_from_db()
    assert rosa.status == "active"
    assert hold.lifted_at is not None


@time_machine.travel(NOON, tick=False)
def test_a_later_vigencia_extends_and_an_earlier_one_is_ignored():
    _import(_line())
    _import(_line(paid_until="2027-01-10"))
    rosa = Contract.objects.get()
    assert rosa.paid_until == datetime.date(2027, 1, 10)

    report = _import(_line(paid_until="2026-12-20"))

    rosa.refresh_from_db()
    assert report.unchanged == 1
    assert rosa.paid_until == datetime.date(2027, 1, 10)


@time_machine.travel(NOON, tick=False)
def test_a_plan_changed_in_the_file_holds_after_the_recompute():
    _import(_line())
    _import(_line(plan="Plan Avanzado"))
    contracts_recompute()
    rosa = Contract.objects.get()
    assert rosa.plan.name == "Plan Avanzado"
    change = ServiceChange.objects.get(contract=rosa)
    assert (change.event, change.reason) == ("contract.plan_changed", "staff")


@time_machine.travel(NOON, tick=False)
def test_the_ip_address_column_is_optional_and_its_absence_keeps_the_address():
    _import(_line(extra=",10.20.0.15"), header=HEADER + ",ip_address")
    rosa = Contract.objects.get()
    assert rosa.ip_address == "10.20.0.15"

    report = _import(_line())

    rosa.refresh_from_db()
    assert (report.unchanged, rosa.ip_address) == (1, "10.20.0.15")


def test_a_wrong_ip_address_is_named_on_its_line_and_nothing_is_imported():
    raw = "\n".join([HEADER + ",ip_address", _line(extra=",10.20.0.999")]).encode()
    report = contracts_import(rows_file=io.BytesIO(raw))
    assert [str(error) for error in report.errors] == [
        "línea 2: ip_address «10.20.0.999» no es una dirección IP válida."
    ]
    assert not Contract.objects.exists()


@time_machine.travel(NOON, tick=False)
def test_an_ipv6_address_is_kept_as_written_back_and_a_zone_is_refused():
    header = HEADER + ",ip_address"
    _import(_line(extra=",2001:DB8::1"), header=header)
    report = _import(_line(extra=",2001:DB8::1"), header=header)
    assert report.unchanged == 1
    assert Contract.objects.get().ip_address == "2001:db8::1"

    raw = "\n".join([header, _line(extra=",fe80::1%eth0")]).encode()
    assert len(contracts_import(rows_file=io.BytesIO(raw)).errors) == 1
