"""What one webhook delivery costs before it is answered: what is stored, how many
queries, what is queued, and that no session or cookie is made for a gateway."""

import time
from unittest import mock

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from billing.models import LedgerEntry
from payments import webhooks
from payments.models import GatewayAccount, WebhookDelivery
from payments.tasks import webhook_deliveries_credit_task
from payments.webhooks import webhook_deliveries_credit

from . import stripe_server as api

pytestmark = pytest.mark.django_db

URL = "/webhooks/stripe/111/"


@pytest.fixture
def account(kona):
    return api.account_for(kona)


@pytest.fixture
def payment(juan):
    return api.oxxo_payment_for(juan.contracts.get(), intent_id="pi_path")


def _body(payment) -> bytes:
    return api.intent_succeeded_body(payment, event_id="evt_path")


def _deliver(client, body: bytes, url: str = URL, **headers):
    return client.post(
        url,
        data=body,
        content_type="application/json",
        **{
            "HTTP_STRIPE_SIGNATURE": api.signature_header(body),
            "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "HTTP_AUTHORIZATION": "Bearer not-to-be-kept",
            **headers,
        },
    )


def test_a_verified_delivery_is_two_statements_and_wakes_the_worker(
    client, account, payment, queued, django_assert_num_queries
):
    # PostgreSQL stores the delivery and finds the account in one statement; others in
    # two. Then the verified facts are kept on it.
    with django_assert_num_queries(2 if connection.vendor == "postgresql" else 3):
        response = _deliver(client, _body(payment))

    assert response.status_code == 200
    assert response.json() == {"received": True, "outcomes": ["queued"]}
    assert queued.call_args_list == [mock.call(countdown=1.0)]
    delivery = WebhookDelivery.objects.get()
    assert (delivery.outcome, delivery.event_id) == ("verified", "evt_path")
    (fact,) = delivery.facts
    assert (fact["provider_id"], fact["gateway"]) == (account.provider_id, "stripe")
    assert fact["remote"]["event_id"] == "evt_path"
    assert fact["remote"]["external_id"] == "pi_path"
    assert fact["remote"]["amount"] == "250"
    # Nothing credited yet: that is the worker's job.
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not LedgerEntry.objects.exists()


def test_deliveries_arriving_before_the_worker_drains_queue_no_more_tasks(
    client, account, payment, queued
):
    bodies = [api.intent_succeeded_body(payment, event_id=f"evt_{n}") for n in range(3)]

    for body in bodies[:2]:
        assert _deliver(client, body).status_code == 200
    assert queued.call_count == 1

    # The worker's turn, a second later.
    with mock.patch("payments.webhooks.time.monotonic", return_value=time.monotonic() + 1):
        assert webhook_deliveries_credit() == 2
        assert _deliver(client, bodies[2]).status_code == 200
    assert queued.call_count == 2


def test_within_half_a_second_of_queuing_a_process_does_not_ask_redis_again(
    client, account, payment, queued
):
    bodies = [api.intent_succeeded_body(payment, event_id=f"evt_{n}") for n in range(3)]
    assert _deliver(client, bodies[0]).status_code == 200

    with mock.patch("payments.webhooks.cache.add") as add:
        assert _deliver(client, bodies[1]).status_code == 200
    assert not add.called
    with (
        mock.patch("payments.webhooks.time.monotonic", return_value=time.monotonic() + 0.6),
        mock.patch("payments.webhooks.cache.add", return_value=False) as add,
    ):
        assert _deliver(client, bodies[2]).status_code == 200
    assert add.called
    assert queued.call_count == 1
    assert WebhookDelivery.objects.filter(outcome="verified").count() == 3


def test_the_credit_task_stores_no_result():
    assert webhook_deliveries_credit_task.ignore_result is True


def test_the_raw_delivery_is_stored_as_received(client, account, payment, queued):
    body = _body(payment)
    before = timezone.now()

    _deliver(client, body)

    delivery = WebhookDelivery.objects.get()
    assert (delivery.gateway, delivery.provider_code) == ("stripe", "111")
    assert delivery.body == body.decode()
    assert set(delivery.headers) == {"Content-Type", "Stripe-Signature", "User-Agent"}
    assert delivery.headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    assert (delivery.outcome, delivery.event_id, delivery.detail) == ("verified", "evt_path", "")
    assert before <= delivery.received_at <= timezone.now()


def test_no_session_or_cookie_is_made_for_a_gateway(client, account, payment, queued):
    response = _deliver(client, _body(payment))

    assert response.status_code == 200
    assert not response.cookies
    assert not Session.objects.exists()


@pytest.mark.parametrize("vendor_path", ["this database", "the ORM"])
@pytest.mark.parametrize(
    ("url", "enabled"),
    [("/webhooks/stripe/999/", True), (URL, False), ("/webhooks/mercadopago/111/", True)],
)
def test_no_enabled_account_is_404_and_nothing_is_stored(
    client, account, payment, queued, monkeypatch, vendor_path, url, enabled
):
    if vendor_path == "the ORM":
        monkeypatch.setattr(webhooks.connection, "vendor", "other")
    GatewayAccount.objects.filter(pk=account.pk).update(is_enabled=enabled)

    response = _deliver(client, _body(payment), url=url)

    assert response.status_code == 404
    assert not WebhookDelivery.objects.exists()
    assert not queued.called
    payment.refresh_from_db()
    assert payment.status == "pending"


@pytest.mark.parametrize(
    "url", ["/webhooks/stripe/1%0011/", "/webhooks/stripe/kona/", "/webhooks/stripe/1234567890123/"]
)
def test_a_provider_code_that_is_no_code_is_404_and_nothing_is_stored(client, account, url):
    response = client.post(url, data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_a_nul_byte_in_a_delivery_is_kept_visible_not_a_500(client, account, payment, queued):
    body = _body(payment).replace(b"{", b"{\x00", 1)

    response = _deliver(client, body, HTTP_STRIPE_SIGNATURE="t=1,v1=bad")

    assert response.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "rejected"
    assert "\x00" not in delivery.body and "\N{REPLACEMENT CHARACTER}" in delivery.body


def test_a_delivery_too_large_is_413_and_nothing_is_stored(client, account, settings):
    settings.WEBHOOK_MAX_BYTES = 1000

    response = client.post(URL, data=b"{" + b" " * 1000 + b"}", content_type="application/json")

    assert response.status_code == 413
    assert not WebhookDelivery.objects.exists()


def test_failed_deliveries_from_one_address_are_refused_unread_past_the_limit(
    client, account, payment, queued, settings
):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 3
    bad = {"HTTP_STRIPE_SIGNATURE": "t=1,v1=bad", "REMOTE_ADDR": "198.51.100.9"}

    answers = [_deliver(client, _body(payment), **bad).status_code for _ in range(3)]
    answers += [_deliver(client, _body(payment), url="/webhooks/stripe/999/", **bad).status_code]
    refused = _deliver(client, _body(payment), **bad)
    elsewhere = _deliver(client, _body(payment), REMOTE_ADDR="203.0.113.5")

    assert answers == [400, 400, 400, 429]
    assert refused.status_code == 429
    assert WebhookDelivery.objects.filter(outcome="rejected").count() == 3
    # Another address, with a good signature, is answered as usual.
    assert elsewhere.status_code == 200


def test_verified_deliveries_never_count_against_their_address(
    client, account, payment, queued, settings
):
    settings.WEBHOOK_REJECTED_PER_MINUTE = 2
    bodies = [api.intent_succeeded_body(payment, event_id=f"evt_ok{n}") for n in range(5)]

    answers = [_deliver(client, body, REMOTE_ADDR="198.51.100.9").status_code for body in bodies]

    assert answers == [200] * 5


def test_old_deliveries_that_never_verified_are_purged_and_verified_ones_kept(
    client, account, payment, queued
):
    _deliver(client, _body(payment), HTTP_STRIPE_SIGNATURE="t=1,v1=bad")
    _deliver(client, _body(payment))
    later = timezone.now() + timezone.timedelta(days=31)

    assert webhooks.webhook_deliveries_purge(now=later) == 1
    assert list(WebhookDelivery.objects.values_list("outcome", flat=True)) == ["verified"]
    assert webhooks.webhook_deliveries_purge(now=timezone.now()) == 0


@pytest.mark.parametrize("vendor_path", ["this database", "the ORM"])
def test_the_account_found_is_the_whole_account(
    account, monkeypatch, vendor_path, django_assert_num_queries
):
    if vendor_path == "the ORM":
        monkeypatch.setattr(webhooks.connection, "vendor", "other")

    delivery, found = webhooks.webhook_delivery_store(
        gateway="stripe", provider_code="111", body="{}", headers={"Content-Type": "x"}
    )

    assert WebhookDelivery.objects.get().pk == delivery.pk
    assert found == account
    assert found.credentials == {
        "secret_key": api.SECRET_KEY,
        "webhook_secret": api.WEBHOOK_SECRET,
    }
    assert (found.provider_id, found.gateway, found.is_enabled, found.expiry_days) == (
        account.provider_id,
        "stripe",
        True,
        3,
    )
    # The delivery is a saved row: closing it is an UPDATE of that row.
    with django_assert_num_queries(1):
        webhooks.webhook_delivery_close(delivery, WebhookDelivery.Outcome.IGNORED, "test")
    assert WebhookDelivery.objects.get().outcome == "ignored"


def test_a_webhook_skips_the_session_language_and_login_middleware(
    client, account, payment, queued
):
    response = _deliver(client, _body(payment), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Content-Language" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert not hasattr(response.wsgi_request, "session")
    assert not hasattr(response.wsgi_request, "user")


def test_a_webhook_to_a_host_not_allowed_is_400(client, account, payment, queued):
    response = _deliver(client, _body(payment), HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_an_unknown_webhook_path_is_404(client, account, queued):
    response = client.post("/webhooks/stripe/", data=b"{}", content_type="application/json")

    assert response.status_code == 404
    assert not WebhookDelivery.objects.exists()


def test_https_is_still_required_before_the_webhook_path(client, settings, account, payment):
    settings.SECURE_SSL_REDIRECT = True

    response = _deliver(client, _body(payment))

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/webhooks/stripe/111/"
    assert not WebhookDelivery.objects.exists()


def test_pages_keep_the_whole_middleware(client, juan):
    client.force_login(juan)

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 200
    assert response.headers["Content-Language"] == "es"
    assert response.wsgi_request.user == juan


@pytest.mark.parametrize("length", ["abc", "1e3"])
def test_a_content_length_that_is_no_number_is_400_not_500(client, account, length):
    response = client.post(URL, data=b"{}", content_type="application/json", CONTENT_LENGTH=length)

    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()
