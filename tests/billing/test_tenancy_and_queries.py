"""Nobody reaches another subscriber's or ISP's objects; pages cost the same at any size."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from billing.models import LedgerEntry
from billing.services import ledger_record
from payments.models import Payment
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory

from .factories import issue

pytestmark = pytest.mark.django_db

# Every subscriber URL that takes an id, and how to fill it with someone else's object.
# A new such URL must be added here: test_every_subscriber_url_with_an_id_is_walked checks.
FOREIGN_ID_URLS = {
    "invoice_detail": lambda other: {"number": other["invoice"].number},
    "invoice_pdf": lambda other: {"number": other["invoice"].number},
    "invoice_pay": lambda other: {"number": other["invoice"].number},
    "plan_purchase": lambda other: {"plan_id": other["plan"].pk},
    "payment_detail": lambda other: {"public_id": other["payment"].public_id},
    "payment_voucher": lambda other: {"public_id": other["payment"].public_id},
    "payment_cancel": lambda other: {"public_id": other["payment"].public_id},
}
POST_ONLY = {"payment_cancel"}
# URLs whose argument is a signed token, not an id (tests/accounts/test_portal.py tries a
# forged one).
SIGNED_TOKEN_URLS = {"claim_link"}
# Public: an ISP's logo, by its code (printed on its contracts).
PUBLIC_URLS = {"provider_logo"}
# Staff pages, allauth's own, and the gateways' webhooks are not subscriber URLs.
STAFF_OR_LIBRARY_PREFIXES = ("admin/", "accounts/", "i18n/", "webhooks/")


def _patterns_with_arguments(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns_with_arguments(pattern, route)
        elif isinstance(pattern, URLPattern) and pattern.pattern.converters:
            yield route, pattern.name


def test_every_subscriber_url_with_an_id_is_walked():
    names = {
        name
        for route, name in _patterns_with_arguments()
        if not route.startswith(STAFF_OR_LIBRARY_PREFIXES)
    }
    assert names - SIGNED_TOKEN_URLS - PUBLIC_URLS == set(FOREIGN_ID_URLS)


@pytest.fixture
def me():
    provider = ProviderFactory(code="111", handle_domain="kona")
    zone = ZoneFactory(provider=provider)
    plan = PlanFactory(provider=provider)
    plan.zones.add(zone)
    user = UserFactory(provider=provider)
    contract = ContractFactory(provider=provider, user=user, zone=zone, plan=plan)
    issue(contract)
    return user


def _others(me):
    """Objects of a neighbour at the same ISP, and of a subscriber of another ISP."""
    provider = me.provider
    neighbour = ContractFactory(provider=provider, user=UserFactory(provider=provider))
    other_zone_plan = PlanFactory(provider=provider)
    other_zone_plan.zones.add(neighbour.zone)
    other_isp = ProviderFactory(code="222", handle_domain="interatos")
    stranger_zone = ZoneFactory(provider=other_isp)
    stranger_plan = PlanFactory(provider=other_isp)
    stranger_plan.zones.add(stranger_zone)
    stranger = ContractFactory(
        provider=other_isp,
        user=UserFactory(provider=other_isp),
        zone=stranger_zone,
        plan=stranger_plan,
    )
    # Same invoice number (1) at the other ISP as my own invoice 1: must still be theirs only.
    issue(stranger)
    return [
        {"invoice": issue(neighbour), "plan": other_zone_plan, "payment": _payment(neighbour)},
        {"invoice": stranger.invoices.get(), "plan": stranger_plan, "payment": _payment(stranger)},
    ]


def _payment(contract):
    return Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference=f"{contract.provider.code}{contract.pk:011d}",
    )


def test_someone_elses_ids_are_404_on_every_subscriber_url(client, me):
    client.force_login(me)
    own_invoice = me.contracts.get().invoices.get()
    assert (
        client.get(reverse("invoice_detail", kwargs={"number": own_invoice.number})).status_code
        == 200
    )
    for other in _others(me):
        for name, kwargs in FOREIGN_ID_URLS.items():
            url = reverse(name, kwargs=kwargs(other))
            if name in POST_ONLY:
                assert client.post(url).status_code == 404, url
                continue
            if other["invoice"].provider_id != me.provider_id and "number" in kwargs(other):
                # Number 1 at the other ISP is also my own invoice 1: it must show mine.
                response = client.get(url)
                assert response.status_code in (200, 404), url
                if response.status_code == 200 and name == "invoice_detail":
                    assert other["invoice"].contract.number not in response.text
                continue
            assert client.get(url).status_code == 404, url
    # Switching to another subscriber's contract: 404, nothing changes.
    assert (
        client.post(
            "/cuenta/contrato/", {"contract": _others(me)[0]["invoice"].contract_id}
        ).status_code
        == 404
    )


def test_staff_without_a_provider_see_no_subscriber_invoice(client, me):
    staff = UserFactory(provider=None, is_staff=True)
    client.force_login(staff)
    invoice = me.contracts.get().invoices.get()
    assert client.get(f"/facturas/{invoice.number}/").status_code == 404


def _history(contract, size):
    for index in range(size):
        invoice = issue(
            contract,
            amount="100.00",
            issue_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=index % 300),
        )
        ledger_record(
            contract=contract,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=Decimal("50"),
            description="Pago",
            invoice_id=invoice.pk,
        )


SUBSCRIBER_PAGES = [
    "/",
    "/servicios/",
    "/estado-de-cuenta/",
    "/facturas/",
    "/planes/",
    "/cuenta/",
    "/pagos/",
]


@pytest.mark.parametrize("url", SUBSCRIBER_PAGES)
@pytest.mark.parametrize("billing_mode", ["prepaid", "postpaid"])
def test_pages_run_the_same_number_of_queries_at_any_history_size(client, url, billing_mode):
    counts = []
    for size in (0, 10, 500):
        provider = ProviderFactory()
        zone = ZoneFactory(provider=provider)
        plan = PlanFactory(provider=provider)
        plan.zones.add(zone)
        user = UserFactory(provider=provider)
        contract = ContractFactory(
            provider=provider, user=user, zone=zone, plan=plan, billing_mode=billing_mode
        )
        _history(contract, size)
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0] <= 10, counts


def test_invoice_detail_costs_the_same_at_any_history_size(client):
    counts = []
    for size in (0, 10, 500):
        provider = ProviderFactory()
        user = UserFactory(provider=provider)
        contract = ContractFactory(provider=provider, user=user, billing_mode="postpaid")
        _history(contract, size)
        invoice = issue(contract)
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/facturas/{invoice.number}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2] <= 10, counts


def test_a_signed_in_page_reads_the_login_and_its_contracts_in_one_query(client):
    """Signed in through the form, as subscribers are: the session's login comes back on
    every page with its contracts, in one query."""
    provider = ProviderFactory(code="111", handle_domain="kona")
    user = UserFactory(provider=provider, username="juan@kona")
    user.set_password("Clave-Segura-2026!")
    user.save()
    first = ContractFactory(provider=provider, user=user)
    second = ContractFactory(provider=provider, user=user)
    client.post("/accounts/login/", {"login": "juan@kona", "password": "Clave-Segura-2026!"})
    client.get("/cuenta/")

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/cuenta/").text

    reads = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "accounts_user"' in query["sql"] or 'FROM "accounts_contract"' in query["sql"]
    ]
    assert len(reads) == 1, reads
    assert f">Contrato {first.number}<" in page and f">Contrato {second.number}<" in page
