"""A real worker tells the subscriber: a payment credited by a settlement file sends one
"pago recibido", with the new vigencia, through the file SMS backend."""

import datetime
import time

import pytest

from tests.integration.test_worker import _worker_started, _worker_stopped

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def _daytime_zone() -> str:
    """A fixed-offset zone where it is about noon now: quiet hours never hold the test."""
    hours = (12 - datetime.datetime.now(tz=datetime.UTC).hour) % 24
    hours = hours - 24 if hours > 12 else hours
    # Etc/GMT signs are reversed: Etc/GMT+6 is six hours behind UTC.
    return "Etc/GMT" + (f"{-hours:+d}" if hours else "")


def test_a_settlement_payment_sends_one_receipt_with_the_new_vigencia(settings, juan, tmp_path):
    from payments.models import GatewayAccount
    from payments.settlement import settlement_file_receive
    from payments.tasks import settlement_import_queue
    from tests.payments.test_settlement import an_hour_ago, reference_for, settlement_csv

    kona = juan.provider
    kona.time_zone = _daytime_zone()
    kona.save()
    GatewayAccount.objects.create(provider=kona, gateway="reference", reference_prefix="111")
    contract = juan.contracts.get()
    payment = reference_for(contract)
    vigencia = contract.paid_until + datetime.timedelta(days=contract.plan.period_days)
    content = settlement_csv(f"{payment.reference},{payment.amount},{an_hour_ago()},F-1")
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")
    outbox = tmp_path / "sms"
    worker = _worker_started(
        settings,
        "--pool=solo",
        extra_env={"TEST_SMS_BACKEND": "accounts.sms.FileBackend", "SMS_FILE_PATH": str(outbox)},
    )
    try:
        settlement_import_queue(settlement.pk)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(outbox.glob("*.txt")):
            time.sleep(0.2)
        time.sleep(1.5)  # nothing more comes
    finally:
        _worker_stopped(worker)

    (message,) = [path.read_text(encoding="utf-8") for path in outbox.glob("*.txt")]
    assert message.startswith(f"To: {contract.phone}\n")
    assert f"Vigencia: {vigencia.strftime('%d/%m/%Y')}." in message
    assert "recibimos tu pago de $250.00" in message
