"""What the ISP's network hears: signed Standard Webhooks events and RouterOS commands,
retried with growing waits, in order, and resent by staff."""

import datetime
import json

import pytest
import time_machine
from django.utils import timezone
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from billing.models import NetworkDelivery, NetworkHook, Router
from billing.network import network_deliveries_send, network_retry_wait, network_secret_new
from billing.recompute import contracts_recompute
from billing.services import ServiceOrder, service_orders_apply
from tests.billing.routeros_server import FakeRouterOS
from tests.factories import ContractFactory, PlanFactory, ProviderFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
CUT = datetime.datetime(2026, 12, 1, 6, 0, 3, tzinfo=UTC)  # 00:00:03 in Mexico City


@pytest.fixture(autouse=True)
def _around_midnight():
    """The whole test runs from the suspension's minute on, time moving."""
    with time_machine.travel(CUT, tick=True):
        yield


@pytest.fixture
def contract():
    provider = ProviderFactory(code="111", handle_domain="kona")
    plan = PlanFactory(provider=provider, name="Plan Básico", download_mbps=10, upload_mbps=5)
    return ContractFactory(
        provider=provider,
        number="1001",
        plan=plan,
        paid_until=datetime.date(2026, 12, 1),
        ip_address="10.20.0.15",
    )


@pytest.fixture
def hook(contract, httpserver):
    hook = NetworkHook(provider=contract.provider, url=httpserver.url_for("/antena"))
    hook.secret = network_secret_new()
    hook.save()
    return hook


def _suspend_at_midnight():
    contracts_recompute(now=CUT)


def test_a_suspension_reaches_the_isps_webhook_signed_and_as_documented(
    contract, hook, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_oneshot_request("/antena", method="POST").respond_with_data("ok")

    with django_capture_on_commit_callbacks(execute=True):
        _suspend_at_midnight()

    (request,) = [request for request, _response in httpserver.log]
    payload = Webhook(hook.secret).verify(request.get_data(), dict(request.headers))
    assert payload == {
        "type": "contract.suspended",
        "timestamp": "2026-12-01T06:00:03Z",
        "data": {
            "provider": "111",
            "contract": "1001",
            "status": "suspended",
            "reason": "sin_credito",
            "plan": {"name": "Plan Básico", "download_mbps": 10, "upload_mbps": 5},
            "paid_until": "2026-12-01",
            "ip_address": "10.20.0.15",
        },
    }
    delivery = NetworkDelivery.objects.get()
    assert request.headers["webhook-id"] == delivery.message_id
    assert (delivery.status, delivery.attempts, delivery.last_result) == (
        "delivered",
        1,
        "HTTP 200",
    )


def test_a_signature_made_with_another_secret_does_not_verify(
    contract, hook, httpserver, django_capture_on_commit_callbacks
):
    from standardwebhooks.webhooks import WebhookVerificationError

    httpserver.expect_oneshot_request("/antena").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        _suspend_at_midnight()
    (request,) = [request for request, _response in httpserver.log]
    with pytest.raises(WebhookVerificationError):
        Webhook(network_secret_new()).verify(request.get_data(), dict(request.headers))


def test_a_failing_endpoint_is_tried_again_after_growing_waits_and_gets_the_event_once(
    contract, hook, httpserver
):
    answers = iter([500, 500, 500, 200])
    httpserver.expect_request("/antena").respond_with_handler(
        lambda request: Response("x", status=next(answers))
    )
    _suspend_at_midnight()
    delivery = NetworkDelivery.objects.get()

    now = CUT
    for attempt in (1, 2, 3):
        assert network_deliveries_send(now=now) == 0
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_result) == (
            "pending",
            attempt,
            "HTTP 500",
        )
        # Not again before its wait is over.
        wait = delivery.next_attempt_at - timezone.now()
        assert wait > network_retry_wait(attempts=attempt) - datetime.timedelta(seconds=5)
        assert network_deliveries_send(now=timezone.now()) == 0
        assert len(httpserver.log) == attempt
        now = delivery.next_attempt_at
    assert network_deliveries_send(now=now) == 1
    assert network_deliveries_send(now=now + datetime.timedelta(days=2)) == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 4)
    assert len(httpserver.log) == 4


def test_the_waits_double_and_add_up_to_the_span(settings):
    settings.NETWORK_DELIVERY_ATTEMPTS = 12
    settings.NETWORK_DELIVERY_SPAN = 24 * 60 * 60
    waits = [network_retry_wait(attempts=attempt) for attempt in range(1, 12)]
    assert round(waits[0].total_seconds()) == 42
    assert abs(waits[5] - 32 * waits[0]) < datetime.timedelta(milliseconds=1)
    total = sum(waits, datetime.timedelta())
    assert abs(total - datetime.timedelta(hours=24)) < datetime.timedelta(seconds=1)


def test_after_the_last_attempt_the_delivery_is_failed_and_left_for_staff(
    contract, hook, httpserver, settings
):
    settings.NETWORK_DELIVERY_ATTEMPTS = 2
    httpserver.expect_request("/antena").respond_with_data("no", status=503)
    _suspend_at_midnight()
    network_deliveries_send(now=CUT)
    network_deliveries_send(now=CUT + datetime.timedelta(days=2))
    delivery = NetworkDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert network_deliveries_send(now=CUT + datetime.timedelta(days=4)) == 0
    assert len(httpserver.log) == 2


def test_a_later_event_never_overtakes_an_earlier_one_that_failed(contract, hook, httpserver):
    answers = iter([500, 200, 200])
    httpserver.expect_request("/antena").respond_with_handler(
        lambda request: Response("x", status=next(answers))
    )
    _suspend_at_midnight()
    service_orders_apply(
        orders=[ServiceOrder(contract=contract, vigencia=datetime.date(2027, 1, 1))], actor=None
    )
    assert NetworkDelivery.objects.count() == 2

    network_deliveries_send(now=timezone.now())
    assert len(httpserver.log) == 1  # the suspension failed: the reactivation waits

    network_deliveries_send(now=timezone.now() + datetime.timedelta(hours=1))
    types = [json.loads(request.get_data())["type"] for request, _ in httpserver.log]
    assert types == ["contract.suspended", "contract.suspended", "contract.reactivated"]


def test_staff_resend_a_delivery_from_the_admin(
    client, contract, hook, httpserver, admin_without_totp, django_capture_on_commit_callbacks
):
    from accounts.roles import ISP_ADMIN_ROLE
    from tests.factories import staff_of

    httpserver.expect_request("/antena").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        _suspend_at_midnight()
    delivery = NetworkDelivery.objects.get()
    client.force_login(staff_of(contract.provider, ISP_ADMIN_ROLE))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/billing/networkdelivery/",
            {"action": "resend", "_selected_action": [delivery.pk]},
        )

    assert response.status_code == 302
    assert len(httpserver.log) == 2
    ids = {request.headers["webhook-id"] for request, _ in httpserver.log}
    assert ids == {delivery.message_id}  # the same event: receivers tell repeats by id


def test_nothing_is_queued_for_an_isp_without_a_network_configured(contract):
    _suspend_at_midnight()
    assert not NetworkDelivery.objects.exists()


@pytest.fixture
def router(contract):
    with FakeRouterOS(username="antena", password="clave-router") as fake:
        router = Router(
            provider=contract.provider, host=fake.host, port=fake.port, username="antena"
        )
        router.password = "clave-router"
        router.save()
        yield fake


def test_the_router_lists_a_suspended_address_and_frees_it_on_reactivation(
    contract, router, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _suspend_at_midnight()
    assert [(entry["list"], entry["address"]) for entry in router.address_list] == [
        ("morosos", "10.20.0.15")
    ]

    with django_capture_on_commit_callbacks(execute=True):
        service_orders_apply(
            orders=[ServiceOrder(contract=contract, vigencia=datetime.date(2027, 1, 1))],
            actor=None,
        )
    assert router.address_list == []
    assert set(NetworkDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_plan_change_sets_the_queue_limits_on_the_router(
    contract, router, django_capture_on_commit_callbacks
):
    avanzado = PlanFactory(
        provider=contract.provider, name="Plan Avanzado", download_mbps=20, upload_mbps=5
    )
    with django_capture_on_commit_callbacks(execute=True):
        service_orders_apply(orders=[ServiceOrder(contract=contract, plan=avanzado)], actor=None)
    (queue,) = router.queues
    assert (queue["target"], queue["max-limit"]) == ("10.20.0.15/32", "5M/20M")


def test_a_router_that_refuses_keeps_the_delivery_pending_with_why(contract, router):
    router.fail_next = 5
    _suspend_at_midnight()
    network_deliveries_send(now=timezone.now())
    delivery = NetworkDelivery.objects.get()
    assert delivery.status == "pending"
    assert "simulated" in delivery.last_result
    assert "clave-router" not in delivery.last_result


def test_a_contract_without_an_ip_address_is_not_sent_to_the_router(contract, router):
    contract.ip_address = None
    contract.save()
    _suspend_at_midnight()
    assert not NetworkDelivery.objects.exists()


def test_a_failing_webhook_does_not_hold_back_the_router(contract, hook, router, httpserver):
    httpserver.expect_request("/antena").respond_with_data("no", status=500)
    _suspend_at_midnight()
    network_deliveries_send(now=timezone.now())
    assert [(entry["list"], entry["address"]) for entry in router.address_list] == [
        ("morosos", "10.20.0.15")
    ]
    statuses = dict(NetworkDelivery.objects.values_list("router_id", "status"))
    assert statuses == {None: "pending", Router.objects.get().pk: "delivered"}


def test_an_ipv6_contract_is_not_sent_to_the_router(contract, router):
    contract.ip_address = "2001:db8::15"
    contract.save()
    _suspend_at_midnight()
    assert not NetworkDelivery.objects.exists()


def test_a_delivery_to_a_deactivated_webhook_fails_at_once(contract, hook, httpserver):
    _suspend_at_midnight()
    NetworkHook.objects.update(is_active=False)
    network_deliveries_send(now=timezone.now())
    delivery = NetworkDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert httpserver.log == []


def test_replacing_only_the_secret_is_audited_without_the_secret(
    client, contract, hook, admin_without_totp
):
    from accounts.roles import ISP_ADMIN_ROLE
    from core.models import AuditEntry
    from tests.factories import staff_of

    client.force_login(staff_of(contract.provider, ISP_ADMIN_ROLE))
    secret = network_secret_new()
    response = client.post(
        f"/admin/billing/networkhook/{hook.pk}/change/",
        {
            "provider": contract.provider.pk,
            "url": hook.url,
            "secret": secret,
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.secret == secret
    entry = AuditEntry.objects.get(action="admin.changed")
    assert entry.note == "secreto reemplazado"
    assert secret not in str(entry.changes)


def test_a_secret_that_is_not_one_is_refused_and_nothing_changes(
    client, contract, hook, admin_without_totp
):
    from accounts.roles import ISP_ADMIN_ROLE
    from tests.factories import staff_of

    client.force_login(staff_of(contract.provider, ISP_ADMIN_ROLE))
    before = hook.secret_encrypted
    response = client.post(
        f"/admin/billing/networkhook/{hook.pk}/change/",
        {"provider": contract.provider.pk, "url": hook.url, "secret": "hola", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Un secreto es whsec_" in response.text
    hook.refresh_from_db()
    assert hook.secret_encrypted == before
