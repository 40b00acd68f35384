"""Staff of one ISP never reach another ISP's rows, on any admin page.

The walk is generated from the admin registry and from each ModelAdmin's own URLs, so a
new ModelAdmin or a new custom admin view is walked without anyone adding it here; one
that has no object of the other ISP to try (OTHER_ISP_OBJECTS) fails the first test.
Staff of ISP ALFA, in each role and with every permission short of superuser, walk every
changelist (with search, raw-id popup and filters), every object URL of ISP BRAVO's
objects (change, history, delete, the password and custom views), every autocomplete,
and every add or form page, and must find nothing of BRAVO's: 404 for its objects, and
no BRAVO name anywhere in a page (the list, the filters, the choices of every picker).
"""

import datetime
import json
import re
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)

from accounts.models import Contract, Provider, SecondFactor, User
from accounts.roles import BILLING_ROLE, ISP_ADMIN_ROLE, SUPPORT_ROLE
from billing.models import (
    Invoice,
    InvoiceLine,
    LedgerEntry,
    NetworkDelivery,
    NetworkHook,
    Router,
    ServiceChange,
    ServiceHold,
    ServicePeriod,
)
from billing.network import network_secret_new
from billing.services import Extension, LineSpec, invoice_issue, ledger_record, prepaid_extend
from core.admin import TenantAdminMixin, TenantFieldsMixin
from core.models import AuditEntry
from core.tenancy import PLATFORM_ROLE
from notifications.models import MessageTemplate, Notification
from payments.gateways.reference import reference_new
from payments.models import (
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentPromise,
    SettlementImport,
    SettlementLine,
    WebhookDelivery,
)
from payments.settlement import settlement_file_import
from plans.models import Plan, Promotion, Zone
from tests.factories import (
    ContractFactory,
    PlanFactory,
    ProviderFactory,
    UserFactory,
    ZoneFactory,
    staff_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]

# Models registered in the admin that belong to no ISP: the roles.
GLOBAL_MODELS = {Group}
# Only platform staff reach these (core.tenancy.PLATFORM_ONLY): the periodic jobs.
PLATFORM_MODELS = {PeriodicTask, IntervalSchedule, CrontabSchedule, ClockedSchedule, SolarSchedule}
# Staff views in the admin outside the ModelAdmins, and how to name an object of BRAVO.
CONSOLE_URLS = {"payments_console_payment": lambda bravo: {"pk": bravo[Payment].pk}}


def _isp(code: str, name: str) -> dict:
    """One object of every kind the admin shows, for one ISP; names carry `name`."""
    provider = ProviderFactory(code=code, name=name, handle_domain=name.lower())
    zone = ZoneFactory(provider=provider, name=f"Zona {name}")
    plan = PlanFactory(provider=provider, name=f"Plan {name}")
    plan.zones.add(zone)
    today = provider.today()
    promotion = Promotion.objects.create(
        provider=provider,
        title=f"Promo {name}",
        starts_on=today,
        ends_on=today + datetime.timedelta(days=30),
    )
    promotion.zones.add(zone)
    subscriber = UserFactory(provider=provider, username=f"abonado@{name.lower()}")
    email = EmailAddress.objects.create(
        user=subscriber, email=f"{name.lower()}@example.com", primary=True, verified=True
    )
    contract = ContractFactory(
        provider=provider,
        number="1001",
        zone=zone,
        plan=plan,
        user=subscriber,
        holder_name=f"Titular {name}",
        installation_address=f"Calle {name} 1",
    )
    invoice = invoice_issue(
        contract=contract,
        lines=[LineSpec(description=f"Servicio {name}", amount=Decimal("250.00"))],
        due_date=today + datetime.timedelta(days=10),
    )
    entry = ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal("100.00"),
        description=f"Pago {name}",
    )
    (period,) = prepaid_extend(
        extensions=[Extension(contract=contract, plan=plan, description=f"Periodo {name}")]
    )
    account = GatewayAccount.objects.create(
        provider=provider, gateway="reference", reference_prefix=code
    )
    payment = Payment.objects.create(
        provider=provider,
        contract=contract,
        gateway="reference",
        plan=plan,
        amount=Decimal("250.00"),
        currency=provider.currency,
        reference=f"{code}00000000018",
    )
    event = PaymentEvent.objects.create(payment=payment, kind="created", source=name)
    delivery = WebhookDelivery.objects.create(
        gateway="stripe", provider_code=code, event_id=f"evt_{name}", body="{}"
    )
    promise = PaymentPromise.objects.create(
        contract=contract, period_key=f"vigencia:{name}", starts_on=today, ends_on=today
    )
    settlement = settlement_file_import(
        provider=provider,
        # A reference nobody was given: the line waits in the review queue.
        raw=f"reference,amount,paid_at,folio\n{reference_new(prefix=code)},1.00,"
        "2026-01-01T00:00:00+00:00,F\n".encode(),
        filename=f"liquidacion-{name}.csv",
    )
    staff = staff_of(provider, ISP_ADMIN_ROLE, username=f"staff-{name.lower()}")
    # Shown on the contract's page (its service history) only.
    ServiceHold.objects.create(contract=contract, reason=f"Retención {name}")
    hook = NetworkHook(provider=provider, url=f"http://red.{name.lower()}.example/eventos")
    hook.secret = network_secret_new()
    hook.save()
    router = Router(provider=provider, host=f"router.{name.lower()}.example", username=name)
    router.password = "x"
    router.save()
    change = ServiceChange.objects.create(
        provider=provider,
        contract=contract,
        event=ServiceChange.Event.SUSPENDED,
        reason=ServiceChange.Reason.STAFF,
        status_from="active",
        status_to="suspended",
        plan_to=plan,
    )
    network_delivery = NetworkDelivery.objects.create(provider=provider, change=change, hook=hook)
    template = MessageTemplate.objects.create(
        provider=provider, kind="payment_received", text=f"{name}: pago recibido"
    )
    notification = Notification.objects.create(
        provider=provider,
        contract=contract,
        kind="payment_received",
        event=f"prueba:{name}",
        channel="sms",
        to="+525512345678",
        body=f"Aviso {name}",
    )
    # Jobs belong to no ISP: only platform staff reach them (BRAVO's stand for any).
    every = IntervalSchedule.objects.create(every=int(code), period=IntervalSchedule.SECONDS)
    crontab = CrontabSchedule.objects.create(minute=str(int(code) % 60))
    clocked = ClockedSchedule.objects.create(clocked_time=timezone.now())
    solar = SolarSchedule.objects.create(event="sunset", latitude=int(code) % 90, longitude=0)
    job = PeriodicTask.objects.create(name=f"Tarea {name}", task="x", interval=every)
    authenticator = Authenticator.objects.create(
        user=staff, type=Authenticator.Type.TOTP, data={"secret": "x"}
    )
    return {
        Provider: provider,
        Zone: zone,
        Plan: plan,
        Promotion: promotion,
        User: subscriber,
        EmailAddress: email,
        SecondFactor: SecondFactor.objects.get(pk=authenticator.pk),
        Contract: contract,
        Invoice: invoice,
        InvoiceLine: invoice.lines.get(),
        LedgerEntry: entry,
        ServicePeriod: period,
        GatewayAccount: account,
        Payment: payment,
        PaymentEvent: event,
        WebhookDelivery: delivery,
        PaymentPromise: promise,
        SettlementImport: settlement,
        SettlementLine: settlement.lines.get(),
        AuditEntry: AuditEntry.objects.filter(provider=provider).first(),
        ServiceChange: change,
        NetworkHook: hook,
        Router: router,
        NetworkDelivery: network_delivery,
        PeriodicTask: job,
        MessageTemplate: template,
        Notification: notification,
        IntervalSchedule: every,
        CrontabSchedule: crontab,
        ClockedSchedule: clocked,
        SolarSchedule: solar,
    }


@pytest.fixture
def alfa():
    return _isp("111", "Alfa")


@pytest.fixture
def bravo():
    return _isp("222", "Bravo")


def _every_permission_user(provider) -> User:
    staff = UserFactory(provider=provider, is_staff=True, username="todo@alfa")
    staff.user_permissions.set(Permission.objects.all())
    return staff


STAFF_KINDS = {
    "isp-admin": lambda provider: staff_of(provider, ISP_ADMIN_ROLE),
    "billing": lambda provider: staff_of(provider, BILLING_ROLE),
    "support": lambda provider: staff_of(provider, SUPPORT_ROLE),
    "every-permission": _every_permission_user,
}


def _admin_urls(model_admin) -> tuple[list[str], list[str]]:
    """The ModelAdmin's own URLs: those that take an object's id, those that do not."""
    prefix = f"/admin/{model_admin.opts.app_label}/{model_admin.opts.model_name}/"
    with_id, without_id = [], []
    for pattern in model_admin.get_urls():
        route = str(pattern.pattern)
        (with_id if pattern.pattern.converters else without_id).append(prefix + route)
    return with_id, without_id


def _bravo_marks(bravo) -> list[str]:
    """What would show a BRAVO row on a page: its names (every one holds "bravo", in any
    case: logins, e-mails, titular, zone…), its reference, and the admin URL of every
    BRAVO object."""
    marks = ["bravo", bravo[Payment].reference]
    for model, obj in bravo.items():
        if model in admin.site._registry and obj is not None:
            marks.append(
                reverse(
                    f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                    args=[obj.pk],
                )
            )
    return marks


def _leaks(content: str, bravo) -> list[str]:
    content = content.lower()
    return [mark for mark in _bravo_marks(bravo) if mark.lower() in content]


def test_every_registered_admin_uses_the_tenancy_base_and_is_walked(alfa, bravo):
    registered = set(admin.site._registry)
    escaping = [
        model._meta.label
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, TenantAdminMixin)
    ]
    assert escaping == []
    inlines = {
        inline.model
        for model_admin in admin.site._registry.values()
        for inline in model_admin.inlines
    }
    assert registered | inlines == set(bravo) | GLOBAL_MODELS
    for model_admin in admin.site._registry.values():
        for inline in model_admin.inlines:
            assert issubclass(inline, TenantFieldsMixin), inline


def test_every_staff_view_outside_the_model_admins_is_walked():
    def admin_routes(resolver, prefix=""):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith("admin/") and route != "admin/":
                    yield from admin_routes(pattern, route)
            elif route.startswith("admin/") and pattern.pattern.converters:
                yield pattern.name

    assert set(admin_routes(get_resolver())) == set(CONSOLE_URLS)


@pytest.mark.parametrize("kind", STAFF_KINDS)
def test_staff_of_one_isp_find_nothing_of_another_on_any_admin_page(client, alfa, bravo, kind):
    staff = STAFF_KINDS[kind](alfa[Provider])
    client.force_login(staff)
    allowed = {404} if kind == "every-permission" else {403, 404}
    problems = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label
        with_id, without_id = _admin_urls(model_admin)
        for url in without_id:
            # "a" is in names of both ISPs; "Bravo" itself would be echoed by the search box.
            for query in ("", "?q=a", "?_to_field=id&_popup=1"):
                response = client.get(url + query)
                if response.status_code not in (200, 403):
                    problems.append(f"{label} {url}{query}: {response.status_code}")
                elif response.status_code == 200 and _leaks(response.text, bravo):
                    problems.append(f"{label} {url}{query} shows {_leaks(response.text, bravo)}")
        if model in GLOBAL_MODELS:
            continue
        other = bravo[model]
        for url in with_id:
            concrete = re.sub(r"<[^>]+>", str(other.pk), url)
            response = client.get(concrete, follow=True)
            # 403 says only "not for you", whatever the id; with every permission, 404.
            if response.status_code not in allowed:
                problems.append(f"{label} {concrete}: {response.status_code}")
    for name, kwargs in CONSOLE_URLS.items():
        url = reverse(name, kwargs=kwargs(bravo))
        if client.get(url).status_code not in (403, 404):
            problems.append(f"{url}: reachable")
    assert problems == []


@pytest.mark.parametrize("kind", STAFF_KINDS)
def test_no_autocomplete_offers_another_isps_rows(client, alfa, bravo, kind):
    client.force_login(STAFF_KINDS[kind](alfa[Provider]))
    problems = []
    answered = []
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if not (field.is_relation and field.concrete and field.related_model):
                continue
            if field.related_model not in admin.site._registry:
                continue
            response = client.get(
                "/admin/autocomplete/",
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": "",
                },
            )
            if response.status_code == 200:
                results = json.loads(response.content)["results"]
                answered.append((model, field.name, {result["id"] for result in results}))
                if bravo.get(field.related_model) and any(
                    result["id"] == str(bravo[field.related_model].pk) for result in results
                ):
                    problems.append(f"{model._meta.label}.{field.name}")
            elif response.status_code == 404:
                # Django's answer when the related admin has no search: no list to leak.
                if admin.site._registry[field.related_model].search_fields:
                    problems.append(f"{model._meta.label}.{field.name}: 404")
            elif response.status_code != 403:
                problems.append(f"{model._meta.label}.{field.name}: {response.status_code}")
    assert problems == []
    if kind in ("isp-admin", "every-permission"):
        # The contract's login picker answers them, with their own ISP's logins.
        assert any(
            model is Contract and name == "user" and str(alfa[User].pk) in ids
            for model, name, ids in answered
        )


def test_staff_with_every_permission_see_their_own_isps_rows(client, alfa, bravo):
    """The walk above can fail: the same staff reach every object of their own ISP."""
    client.force_login(_every_permission_user(alfa[Provider]))
    for model in admin.site._registry:
        if model in GLOBAL_MODELS | PLATFORM_MODELS:
            continue
        own = alfa[model]
        change_url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[own.pk]
        )
        changelist = client.get(
            reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        )
        assert changelist.status_code == 200, model
        assert change_url in changelist.text, model
        assert client.get(change_url).status_code == 200, model


def test_a_picker_given_another_isps_id_refuses_it_and_names_nothing(client, alfa, bravo):
    staff = _every_permission_user(alfa[Provider])
    client.force_login(staff)

    # The invoice form's contract (a raw-id lookup) given BRAVO's contract.
    issue = client.post(
        "/admin/billing/invoice/emitir/",
        {
            "contract": bravo[Contract].pk,
            "description": "x",
            "amount": "1.00",
            "due_date": (alfa[Provider].today() + datetime.timedelta(days=30)).isoformat(),
        },
    )
    # A contract's subscriber (a raw-id lookup) set to BRAVO's login.
    contract = alfa[Contract]
    change = client.post(
        f"/admin/accounts/contract/{contract.pk}/change/",
        {
            "provider": alfa[Provider].pk,
            "number": contract.number,
            "holder_name": contract.holder_name,
            "installation_address": contract.installation_address,
            "phone": contract.phone,
            "zone": bravo[Zone].pk,
            "plan": alfa[Plan].pk,
            "billing_mode": "prepaid",
            "status": "active",
            "user": bravo[User].pk,
        },
    )

    for response in (issue, change):
        assert response.status_code in (200, 400)
        assert "Escoja una opción válida" in response.text
        assert _leaks(response.text, bravo) == []
    contract.refresh_from_db()
    assert (contract.zone, contract.user) == (alfa[Zone], alfa[User])
    assert (
        not Invoice.objects.filter(contract=bravo[Contract]).exclude(pk=bravo[Invoice].pk).exists()
    )


def test_actions_on_another_isps_rows_change_nothing(client, alfa, bravo):
    client.force_login(_every_permission_user(alfa[Provider]))
    line = bravo[SettlementLine]
    zone = bravo[Zone]

    client.post(
        "/admin/payments/settlementline/?queue=all",
        {"action": "resolve", "_selected_action": [line.pk], "index": 0},
    )
    client.post(
        "/admin/plans/zone/",
        {"action": "delete_selected", "_selected_action": [zone.pk], "post": "yes"},
    )
    for url in (
        f"/admin/billing/invoice/{bravo[Invoice].pk}/anular/",
        f"/admin/billing/ledgerentry/{bravo[LedgerEntry].pk}/revertir/",
    ):
        assert client.post(url, {"reason": "x"}).status_code == 404

    line.refresh_from_db()
    assert line.resolved is False
    assert Zone.objects.filter(pk=zone.pk).exists()
    assert bravo[Invoice].__class__.objects.get(pk=bravo[Invoice].pk).status == "issued"
    assert not LedgerEntry.objects.filter(reverses=bravo[LedgerEntry]).exists()


def test_staff_without_an_isp_see_nothing_and_platform_staff_see_every_isp(client, alfa, bravo):
    nobody = UserFactory(provider=None, is_staff=True, username="sin-isp")
    nobody.user_permissions.set(Permission.objects.all())
    platform = staff_of(None, "Plataforma", username="plataforma")

    client.force_login(nobody)
    contracts_seen_by_nobody = client.get("/admin/accounts/contract/").text
    client.force_login(platform)
    contracts_seen_by_platform = client.get("/admin/accounts/contract/").text

    assert "Titular Alfa" not in contracts_seen_by_nobody
    assert "Titular Bravo" not in contracts_seen_by_nobody
    assert "Titular Alfa" in contracts_seen_by_platform
    assert "Titular Bravo" in contracts_seen_by_platform


def test_the_periodic_jobs_are_for_platform_staff_only(client, alfa, bravo):
    """A job runs for every ISP: an ISP's staff, even with every permission, cannot see,
    pause or run one; platform staff can."""
    client.force_login(_every_permission_user(alfa[Provider]))
    changelist = client.get("/admin/django_celery_beat/periodictask/")
    assert "Tarea Alfa" not in changelist.text
    assert (
        client.get(
            f"/admin/django_celery_beat/periodictask/{alfa[PeriodicTask].pk}/change/"
        ).status_code
        == 404
    )

    client.force_login(staff_of(None, PLATFORM_ROLE))
    changelist = client.get("/admin/django_celery_beat/periodictask/")
    assert "Tarea Alfa" in changelist.text and "Tarea Bravo" in changelist.text
