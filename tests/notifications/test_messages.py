"""What subscribers are told: a receipt for every payment, reminders before credit runs
out, notices on suspension and reactivation; once each, never at night."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from accounts import sms
from billing.recompute import contracts_recompute
from core.money import money_format
from notifications.models import MessageTemplate, Notification
from notifications.services import Message, notifications_deliver, notifications_send
from payments.models import Payment
from payments.reminders import reminders_send
from payments.services import PaymentReport, payments_confirm
from tests.factories import ContractFactory, PlanFactory, ProviderFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
# 12:00 in Mexico City; 15:00 in Córdoba.
NOON_MX = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=UTC)


def _contract(time_zone="America/Mexico_City", locale="es_MX", paid_until=None, **kwargs):
    provider = ProviderFactory(
        code="111",
        name="KONA",
        handle_domain="kona",
        time_zone=time_zone,
        locale=locale,
        currency="ARS" if locale == "es_AR" else "MXN",
    )
    plan = PlanFactory(provider=provider, name="Plan Básico", price=Decimal("250.00"))
    return ContractFactory(
        provider=provider,
        number="1002",
        plan=plan,
        paid_until=paid_until or datetime.date(2026, 12, 20),
        **kwargs,
    )


def _pay(contract, *, reference="11100000000017"):
    payment = Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=contract.plan.price,
        currency=contract.provider.currency,
        reference=reference,
    )
    payments_confirm(
        reports=[
            PaymentReport(
                payment_id=payment.pk,
                amount=payment.amount,
                currency=payment.currency,
                paid_at=datetime.datetime.now(tz=UTC),
            )
        ],
        source="agent",
    )
    return payment


@time_machine.travel(NOON_MX, tick=False)
def test_a_credited_payment_sends_a_receipt_with_the_amount_and_the_new_vigencia(
    django_capture_on_commit_callbacks,
):
    contract = _contract(email="juan@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        _pay(contract)

    text = "KONA: recibimos tu pago de $250.00 (contrato 1002). Vigencia: 19/01/2027."
    assert [(message.to, message.body) for message in sms.outbox] == [("+525512345678", text)]
    assert [(message.to, message.body) for message in mail.outbox] == [(["juan@example.com"], text)]
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


@time_machine.travel(NOON_MX, tick=False)
def test_an_argentine_isp_speaks_usted_and_its_own_template_wins(
    django_capture_on_commit_callbacks,
):
    contract = _contract(time_zone="America/Argentina/Cordoba", locale="es_AR")
    with django_capture_on_commit_callbacks(execute=True):
        _pay(contract)
    assert sms.outbox[-1].body.startswith("KONA: recibimos su pago de")

    MessageTemplate.objects.create(
        provider=contract.provider,
        kind="payment_received",
        text="Hola {titular}, gracias por su pago de {monto}.",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _pay(contract, reference="11100000000025")
    amount = money_format(Decimal("250.00"), provider=contract.provider)
    assert amount == "$250,00"  # es_AR's own pattern (an ISP may set "¤ #,##0.00")
    assert sms.outbox[-1].body == f"Hola Juan Pérez López, gracias por su pago de {amount}."


@pytest.mark.parametrize(
    ("time_zone", "late", "morning"),
    [
        (
            "America/Mexico_City",  # 22:30 → 08:00 next day (14:00 UTC)
            datetime.datetime(2026, 12, 11, 4, 30, tzinfo=UTC),
            datetime.datetime(2026, 12, 11, 14, 0, tzinfo=UTC),
        ),
        (
            "America/Argentina/Cordoba",  # 02:00 → 08:00 the same day (11:00 UTC)
            datetime.datetime(2026, 12, 11, 5, 0, tzinfo=UTC),
            datetime.datetime(2026, 12, 11, 11, 0, tzinfo=UTC),
        ),
    ],
)
def test_nothing_goes_out_between_nine_at_night_and_eight_in_the_morning(
    time_zone, late, morning, django_capture_on_commit_callbacks
):
    contract = _contract(time_zone=time_zone)
    with (
        time_machine.travel(late, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _pay(contract)
    assert sms.outbox == []
    assert Notification.objects.get().send_after == morning

    with time_machine.travel(morning - datetime.timedelta(minutes=1), tick=False):
        assert notifications_deliver() == 0
    with time_machine.travel(morning, tick=False):
        assert notifications_deliver() == 1
        assert notifications_deliver() == 0
    assert len(sms.outbox) == 1


@time_machine.travel(NOON_MX, tick=False)
def test_the_same_event_is_told_once_whatever_the_retries():
    contract = _contract()
    message = Message(contract_id=contract.pk, kind="payment_received", event="payment:1")
    notifications_send(messages=[message])
    notifications_send(messages=[message, message])
    assert Notification.objects.count() == 1


@time_machine.travel(NOON_MX, tick=False)
def test_a_failing_gateway_is_recorded_and_raises_nothing(settings):
    settings.SMS_BACKEND = "accounts.sms.HttpBackend"
    settings.SMS_HTTP_URL = "http://127.0.0.1:9/sms"  # nothing listens there
    contract = _contract()
    notifications_send(
        messages=[Message(contract_id=contract.pk, kind="payment_received", event="x")]
    )
    notifications_deliver()
    notification = Notification.objects.get()
    assert (notification.status, notification.error) == ("failed", "SmsDeliveryError")


def test_reminders_at_seven_three_one_and_zero_days_with_the_reference_to_pay():
    contract = _contract(paid_until=datetime.date(2026, 12, 13))
    Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference="111324172894941",
    )
    sent = []
    for day in (5, 6, 7, 8, 9, 10, 11, 12, 13):
        with time_machine.travel(datetime.datetime(2026, 12, day, 18, 0, tzinfo=UTC), tick=False):
            contracts_recompute()  # the beat's, which suspends on the 13th
            reminders_send()
            reminders_send()  # the hourly job again: nothing new
            notifications_deliver()
        sent.extend((day, m.body) for m in sms.outbox if "te quedan" in m.body)
        sms.outbox.clear()
    assert [day for day, _body in sent] == [6, 10, 12]
    assert sent[1][1] == (
        "KONA: te quedan 3 días de servicio (vigencia 13/12/2026). "
        "Paga $250.00 con la referencia 1113 2417 2894 941."
    )


def test_no_reminder_to_a_contract_paid_before_the_morning(django_capture_on_commit_callbacks):
    contract = _contract(paid_until=datetime.date(2026, 12, 14))
    # 00:10 in Mexico City: the reminder is written and waits for 08:00.
    with time_machine.travel(datetime.datetime(2026, 12, 11, 6, 10, tzinfo=UTC), tick=False):
        assert reminders_send() == 1
        with django_capture_on_commit_callbacks(execute=True):
            _pay(contract)
    with time_machine.travel(datetime.datetime(2026, 12, 11, 14, 0, tzinfo=UTC), tick=False):
        notifications_deliver()
    reminder = Notification.objects.get(kind="credit_reminder")
    assert reminder.status == "skipped"
    assert [message.body for message in sms.outbox if "te quedan" in message.body] == []


@time_machine.travel(NOON_MX, tick=False)
def test_no_reminder_to_a_covered_contract():
    _contract(paid_until=datetime.date(2026, 12, 15))  # five days left: not a reminder day
    assert reminders_send() == 0


def test_suspension_and_reactivation_are_told(django_capture_on_commit_callbacks):
    contract = _contract(paid_until=datetime.date(2026, 12, 11))
    with (
        time_machine.travel(datetime.datetime(2026, 12, 11, 18, 0, tzinfo=UTC), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        contracts_recompute()
        _pay(contract)
    bodies = sorted(message.body for message in sms.outbox)
    assert len(bodies) == 3
    assert (
        "KONA: tu servicio del contrato 1002 está suspendido (sin crédito). "
        "Al pagar vuelve en minutos."
    ) in bodies
    assert [body for body in bodies if "está activo de nuevo" in body]
    assert [body for body in bodies if "recibimos tu pago" in body]


def test_a_template_with_an_unknown_placeholder_is_refused(client, admin_without_totp):
    from accounts.roles import ISP_ADMIN_ROLE
    from tests.factories import staff_of

    contract = _contract()
    client.force_login(staff_of(contract.provider, ISP_ADMIN_ROLE))
    response = client.post(
        "/admin/notifications/messagetemplate/add/",
        {
            "provider": contract.provider.pk,
            "kind": "payment_received",
            "text": "Pago de {monto} con {clave}",
        },
    )
    assert response.status_code == 200
    assert "Este mensaje no conoce: {clave}" in response.text
    assert not MessageTemplate.objects.exists()
