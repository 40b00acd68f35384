"""The worker's side of webhooks: every verified delivery waiting, credited in one go."""

import datetime
import threading
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import OperationalError, connection
from django.test import Client

from billing.models import LedgerEntry
from payments.gateways import RemotePayment
from payments.models import Payment, PaymentEvent, WebhookDelivery
from payments.services import WebhookFact, webhooks_apply
from payments.tasks import webhook_deliveries_credit_task
from payments.webhooks import WAKE_KEY, fact_from_json, fact_to_json, webhook_deliveries_credit
from tests.factories import ContractFactory, ProviderFactory

from . import stripe_server as api

URL = "/webhooks/stripe/111/"


def deliver(client, body: bytes):
    response = client.post(
        URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=api.signature_header(body)
    )
    assert response.status_code == 200, response.content
    return WebhookDelivery.objects.latest("pk")


def subscribers(juan, count: int) -> list[Payment]:
    """A pending Stripe OXXO payment for Juan and for `count - 1` more subscribers."""
    contract = juan.contracts.get()
    contracts = [contract] + [
        ContractFactory(
            provider=contract.provider,
            number=str(8000 + n),
            plan=contract.plan,
            zone=contract.zone,
            paid_until=None,
        )
        for n in range(count - 1)
    ]
    return [
        api.oxxo_payment_for(c, intent_id=f"pi_drain_{n}", reference=f"{98760000000000 + n}")
        for n, c in enumerate(contracts)
    ]


def paid_in_full(payment, *, event_id: str) -> RemotePayment:
    """What Stripe says when the payment's whole amount arrived."""
    return RemotePayment(
        event_id=event_id,
        external_id=payment.external_id,
        paid=True,
        amount=payment.amount,
        currency="MXN",
        payment_public_id=str(payment.public_id),
    )


@pytest.mark.django_db
def test_one_drain_credits_every_verified_delivery_once(client, juan, queued):
    api.account_for(juan.provider)
    first, second = subscribers(juan, 2)
    stranger = Payment(public_id=uuid.uuid4(), external_id="pi_nobody", amount=Decimal("250"))
    deliveries = [
        deliver(client, api.intent_succeeded_body(first, event_id="evt_1")),
        deliver(client, api.intent_succeeded_body(second, event_id="evt_2")),
        deliver(client, api.intent_succeeded_body(first, event_id="evt_1")),  # a retry
        deliver(client, api.intent_succeeded_body(first, event_id="evt_3")),  # another event
        deliver(client, api.intent_succeeded_body(stranger, event_id="evt_4")),
    ]
    assert queued.call_count == 1
    assert {d.outcome for d in WebhookDelivery.objects.all()} == {"verified"}

    assert webhook_deliveries_credit() == 5

    found = [WebhookDelivery.objects.get(pk=d.pk) for d in deliveries]
    assert [(d.outcome, d.detail) for d in found] == [
        ("processed", "credited"),
        ("processed", "credited"),
        ("duplicate", "duplicate"),
        ("processed", "already_paid"),
        ("processed", "unknown_payment"),
    ]
    assert [d.facts[0]["outcome"] for d in found] == [
        "credited",
        "credited",
        "duplicate",
        "already_paid",
        "unknown_payment",
    ]
    assert LedgerEntry.objects.filter(kind="payment").count() == 2
    for payment in (first, second):
        payment.refresh_from_db()
        assert payment.status == "paid"
        payment.contract.refresh_from_db()
        assert payment.contract.paid_until >= juan.provider.today() + datetime.timedelta(days=30)
    assert webhook_deliveries_credit() == 0  # nothing left


@pytest.mark.django_db
def test_a_delivery_that_cannot_be_credited_is_marked_failed_and_the_others_land(
    client, juan, queued
):
    api.account_for(juan.provider)
    first, second = subscribers(juan, 2)
    good = deliver(client, api.intent_succeeded_body(first, event_id="evt_good"))
    broken = deliver(client, api.intent_succeeded_body(second, event_id="evt_broken"))
    broken.facts[0]["remote"]["amount"] = "no es un importe"
    broken.save(update_fields=["facts"])

    assert webhook_deliveries_credit() == 2

    good.refresh_from_db()
    broken.refresh_from_db()
    assert (good.outcome, good.detail) == ("processed", "credited")
    assert broken.outcome == "failed"
    assert broken.detail.startswith("InvalidOperation")
    second.refresh_from_db()
    assert second.status == "pending"
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


def test_a_fact_is_kept_as_json_and_read_back_the_same():
    paid_at = datetime.datetime(
        2026, 11, 23, 10, 30, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=-6))
    )
    fact = WebhookFact(
        provider_id=7,
        gateway="mercadopago",
        remote=RemotePayment(
            event_id="123",
            external_id="987",
            paid=True,
            amount=Decimal("2590.50"),
            currency="ARS",
            paid_at=paid_at,
            payment_public_id=str(uuid.uuid4()),
            extra={"status_detail": "accredited"},
        ),
    )

    assert fact_from_json(fact_to_json(fact)) == fact


@pytest.mark.django_db
def test_one_fact_gives_what_it_gave_before_batches(juan):
    """One fact at a time: each outcome of a webhook stays as it was."""
    api.account_for(juan.provider)
    (payment,) = subscribers(juan, 1)
    remote = paid_in_full(payment, event_id="evt_x")

    def apply(remote, provider_id=juan.provider.pk):
        return webhooks_apply(facts=[WebhookFact(provider_id, "stripe", remote)])[0]

    assert apply(RemotePayment(event_id="evt_w", external_id="pi", paid=False)) == "not_paid"
    assert apply(remote) == "credited"
    assert apply(remote) == "duplicate"
    assert apply(RemotePayment(**{**remote.__dict__, "event_id": "evt_y"})) == "already_paid"
    other_isp = RemotePayment(**{**remote.__dict__, "event_id": "evt_z"})
    other = ProviderFactory(code="222", handle_domain="interatos")
    assert apply(other_isp, provider_id=other.pk) == "unknown_payment"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_take_different_deliveries_and_credit_each_once(juan, queued):
    api.account_for(juan.provider)
    payments = subscribers(juan, 12)
    client = Client()
    for n, payment in enumerate(payments):
        deliver(client, api.intent_succeeded_body(payment, event_id=f"evt_{n}"))
    barrier = threading.Barrier(2)
    drained, errors = [], []

    def drain():
        try:
            barrier.wait()
            drained.append(webhook_deliveries_credit())
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(drained) == 12
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {"processed"}
    assert LedgerEntry.objects.filter(kind="payment").count() == 12


def test_the_beat_drains_every_minute_whatever_was_lost(settings):
    """A wake-up whose task was lost (a Redis restart, a killed worker) is caught up."""
    schedule = {
        entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert schedule["payments.tasks.webhook_deliveries_credit_task"] <= 60


@pytest.mark.django_db
def test_a_passing_database_error_leaves_the_deliveries_for_the_next_drain(
    client, juan, queued, monkeypatch
):
    api.account_for(juan.provider)
    (payment,) = subscribers(juan, 1)
    delivery = deliver(client, api.intent_succeeded_body(payment, event_id="evt_1"))

    def deadlocked(**_kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr("payments.webhooks.webhooks_apply", deadlocked)
    with pytest.raises(OperationalError):
        webhook_deliveries_credit()
    delivery.refresh_from_db()
    assert delivery.outcome == "verified"  # not failed: nothing is wrong with it

    monkeypatch.undo()
    assert webhook_deliveries_credit() == 1
    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.detail) == ("processed", "credited")


def test_the_drain_task_retries_on_a_database_error():
    assert OperationalError in webhook_deliveries_credit_task.autoretry_for


@pytest.mark.django_db
def test_a_broker_that_is_down_still_answers_200_and_the_next_drain_credits(client, juan, queued):
    api.account_for(juan.provider)
    (payment,) = subscribers(juan, 1)
    queued.side_effect = OSError("broker unreachable")

    delivery = deliver(client, api.intent_succeeded_body(payment, event_id="evt_1"))

    assert delivery.outcome == "verified"
    assert cache.get(WAKE_KEY) is None  # the next delivery tries to wake a worker again
    assert webhook_deliveries_credit() == 1  # the beat's drain
    payment.refresh_from_db()
    assert payment.status == "paid"


@pytest.mark.django_db
def test_staff_of_an_isp_see_only_their_isps_deliveries(client, juan, settings):
    from django.contrib.auth.models import Permission

    from tests.factories import ProviderFactory, UserFactory

    settings.ADMIN_REQUIRE_MFA = False
    ProviderFactory(code="222", name="Interatos", handle_domain="interatos")
    mine = WebhookDelivery.objects.create(gateway="stripe", provider_code="111", body="{}")
    theirs = WebhookDelivery.objects.create(gateway="stripe", provider_code="222", body="{}")
    clerk = UserFactory(provider=juan.provider, username="ana", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_webhookdelivery"))
    client.force_login(clerk)

    listing = client.get("/admin/payments/webhookdelivery/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [mine]
    assert client.get(f"/admin/payments/webhookdelivery/{theirs.pk}/change/").status_code in (
        302,
        404,
    )


@pytest.mark.django_db
def test_a_batch_of_two_gateways_facts_names_each_gateway_in_the_history(juan):
    stripe_payment, other = subscribers(juan, 2)
    Payment.objects.filter(pk=other.pk).update(gateway="mercadopago", external_id="123456")
    other.refresh_from_db()

    outcomes = webhooks_apply(
        facts=[
            WebhookFact(juan.provider.pk, "stripe", paid_in_full(stripe_payment, event_id="e1")),
            WebhookFact(juan.provider.pk, "mercadopago", paid_in_full(other, event_id="e2")),
        ]
    )

    assert outcomes == ["credited", "credited"]
    sources = dict(PaymentEvent.objects.filter(kind="paid").values_list("payment_id", "source"))
    assert sources == {stripe_payment.pk: "webhook:stripe", other.pk: "webhook:mercadopago"}


@pytest.mark.django_db
def test_an_event_id_taken_through_another_isps_endpoint_spends_nothing_of_this_one(juan):
    """Event ids are per ISP: a delivery to Interatos's endpoint carrying the id of KONA's
    payment event must not make KONA's genuine delivery a duplicate."""
    api.account_for(juan.provider)
    (payment,) = subscribers(juan, 1)
    genuine = paid_in_full(payment, event_id="evt_shared")
    interatos = ProviderFactory(code="222", handle_domain="interatos")

    first = webhooks_apply(facts=[WebhookFact(interatos.pk, "stripe", genuine)])
    second = webhooks_apply(facts=[WebhookFact(juan.provider.pk, "stripe", genuine)])
    again = webhooks_apply(facts=[WebhookFact(juan.provider.pk, "stripe", genuine)])

    assert (first, second, again) == (["unknown_payment"], ["credited"], ["duplicate"])
    payment.refresh_from_db()
    assert payment.status == "paid"


@pytest.mark.django_db
def test_two_isps_may_hold_payments_with_the_same_gateway_id(juan):
    interatos = ProviderFactory(code="222", handle_domain="interatos")
    mine = ContractFactory(provider=juan.provider)
    theirs = ContractFactory(provider=interatos)
    for contract in (mine, theirs):
        Payment.objects.create(
            provider=contract.provider,
            contract=contract,
            gateway="stripe",
            amount=Decimal("250.00"),
            currency="MXN",
            external_id="pi_same",
        )

    assert Payment.objects.filter(external_id="pi_same").count() == 2


@pytest.mark.django_db
def test_an_event_recorded_before_events_were_per_isp_is_still_a_duplicate(juan):
    from payments.models import ProcessedEvent

    api.account_for(juan.provider)
    (payment,) = subscribers(juan, 1)
    ProcessedEvent.objects.create(provider=None, gateway="stripe", event_id="evt_old")

    outcome = webhooks_apply(
        facts=[WebhookFact(juan.provider.pk, "stripe", paid_in_full(payment, event_id="evt_old"))]
    )

    assert outcome == ["duplicate"]
