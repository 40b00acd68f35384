"""Settlement files: the store's or bank's list of payments, matched to references once."""

import datetime
import hashlib
import threading
from decimal import Decimal
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from billing.models import LedgerEntry
from payments.gateways import PaymentUrls
from payments.gateways.reference import reference_new
from payments.models import (
    GatewayAccount,
    Payment,
    PaymentEvent,
    SettlementImport,
    SettlementLine,
)
from payments.services import payment_cancel, payment_start, payments_expire
from payments.settlement import (
    SETTLEMENT_PARSERS,
    FileRefused,
    LineProblem,
    ParsedLine,
    _LineApplier,
    _part_of,
    settlement_file_import,
    settlement_file_receive,
    settlement_import_apply,
    settlement_summary,
)
from payments.tasks import settlement_import_apply_task
from tests.factories import (
    ContractFactory,
    PlanFactory,
    ProviderFactory,
    UserFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db

HEADER = "reference,amount,paid_at,folio"
URLS = PaymentUrls(
    success="http://testserver/ok",
    cancel="http://testserver/no",
    notification="http://testserver/hook",
)
UPLOAD_URL = "/admin/payments/settlementimport/subir/"
QUEUE_URL = "/admin/payments/settlementline/"


def an_hour_ago() -> str:
    return (timezone.now() - datetime.timedelta(hours=1)).replace(microsecond=0).isoformat()


def settlement_csv(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def reference_for(contract) -> Payment:
    """A pending cash reference for the contract's plan, as Adquirir makes it."""
    return payment_start(
        contract=contract,
        gateway="reference",
        method="cash",
        plan=contract.plan,
        urls_for=lambda _: URLS,
    )


def outcomes(settlement: SettlementImport) -> list[tuple[int, str]]:
    return list(settlement.lines.order_by("line_number").values_list("line_number", "outcome"))


def messages_by_line(settlement: SettlementImport) -> dict[int, str]:
    return dict(settlement.lines.values_list("line_number", "message"))


@pytest.fixture
def contract(juan, reference_account):
    return juan.contracts.get()


@pytest.fixture
def payment(contract):
    return reference_for(contract)


def a_second_contract(provider):
    """Another prepaid contract of the same ISP, with its own Plan Básico reference."""
    plan = PlanFactory(provider=provider, price=Decimal("250.00"), period_days=30)
    return ContractFactory(
        provider=provider, number="9001", plan=plan, zone=ZoneFactory(provider=provider)
    )


def do_import(provider, content: bytes, filename="liquidacion.csv", **kwargs):
    return settlement_file_import(provider=provider, raw=content, filename=filename, **kwargs)


# --- The service -----------------------------------------------------------------------


def test_a_good_line_credits_the_payment_and_extends_vigencia(kona, contract, payment):
    # given
    before = contract.credit_days()
    content = settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-0001")

    # when
    settlement = do_import(kona, content)

    # then
    assert outcomes(settlement) == [(2, "credited")]
    payment.refresh_from_db()
    assert (payment.status, payment.paid_amount, payment.paid_late) == (
        "paid",
        Decimal("250.00"),
        False,
    )
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    line = settlement.lines.get()
    assert (line.payment, line.applied, line.folio) == (payment, True, "F-0001")
    assert PaymentEvent.objects.filter(
        payment=payment, kind="paid", source=f"settlement:{settlement.pk}"
    ).exists()
    assert (settlement.line_count, settlement.credited_count) == (1, 1)
    assert settlement.finished_at is not None
    assert settlement.sha256 == hashlib.sha256(content).hexdigest()


def test_importing_the_same_file_again_credits_nothing_new(kona, contract, payment):
    # given
    other = reference_for(a_second_contract(kona))
    content = settlement_csv(
        f"{payment.reference},250.00,{an_hour_ago()},F-0001",
        f"{other.reference},250.00,{an_hour_ago()},F-0002",
    )
    first = do_import(kona, content)
    contract.refresh_from_db()
    paid_until = contract.paid_until
    entries = LedgerEntry.objects.count()

    # when
    second = do_import(kona, content)

    # then
    assert outcomes(first) == [(2, "credited"), (3, "credited")]
    assert outcomes(second) == [(2, "already_paid"), (3, "already_paid")]
    assert LedgerEntry.objects.count() == entries
    contract.refresh_from_db()
    assert contract.paid_until == paid_until
    assert "El folio «F-0001» ya se aplicó (liquidación #" in messages_by_line(second)[2]
    assert f"ya se había importado en la liquidación #{first.pk}" in settlement_summary(second)
    assert second.lines.get(line_number=2).payment == payment


def test_the_same_folio_in_another_file_never_credits_twice(kona, contract, payment):
    # given: the store's operation F-0001 was already applied to this reference
    do_import(kona, settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-0001"))
    other = reference_for(a_second_contract(kona))

    # when: another file reuses the folio for a different reference
    settlement = do_import(
        kona, settlement_csv(f"{other.reference},250.00,{an_hour_ago()},F-0001"), "otro.csv"
    )

    # then
    assert outcomes(settlement) == [(2, "invalid")]
    assert (
        "folio «F-0001» ya se aplicó con otra referencia o importe"
        in (messages_by_line(settlement)[2])
    )
    other.refresh_from_db()
    assert other.status == "pending"


def test_bad_lines_are_reported_with_their_number_and_good_ones_still_land(kona, contract, payment):
    # given
    wrong_digit = payment.reference[:-1] + str((int(payment.reference[-1]) + 1) % 10)
    paid_at = an_hour_ago()
    content = settlement_csv(
        f"{wrong_digit},250.00,{paid_at},F-1",
        f"{payment.reference},250.001,{paid_at},F-2",
        f"{payment.reference},-250,{paid_at},F-3",
        f"{payment.reference},0.00,{paid_at},F-4",
        f"{payment.reference},250.00,20/11/2026 10:30,F-5",
        f"{payment.reference},250.00,2026-11-20T10:30:00,F-6",
        f"{payment.reference},250.00,{paid_at},",
        f"{payment.reference},250.00,{paid_at}",
        f"{payment.reference},250.00,{paid_at},F-9",
        f"{payment.reference},250.00,{paid_at},F-9",
    )

    # when
    settlement = do_import(kona, content)

    # then
    assert outcomes(settlement) == [
        (2, "invalid"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "invalid"),
        (6, "invalid"),
        (7, "invalid"),
        (8, "invalid"),
        (9, "invalid"),
        (10, "credited"),
        (11, "invalid"),
    ]
    messages = messages_by_line(settlement)
    assert messages[2] == (
        f"reference «{wrong_digit}» no es una referencia válida: el dígito verificador no coincide."
    )
    assert messages[3] == (
        "amount «250.001» no es un importe válido: usa dígitos, punto decimal y a lo más 2 "
        "decimales (p. ej. 250.00)."
    )
    assert messages[4].startswith("amount «-250» no es un importe válido")
    assert messages[5] == "amount «0.00» debe ser mayor que cero."
    assert messages[6] == (
        "paid_at «20/11/2026 10:30» no es una fecha y hora ISO 8601 "
        "(p. ej. 2026-11-20T10:30:00-06:00)."
    )
    assert messages[7].startswith("paid_at «2026-11-20T10:30:00» no dice su zona horaria")
    assert messages[8] == "folio está vacío."
    assert messages[9] == "tiene 3 columnas y el encabezado tiene 4."
    assert messages[11] == "folio «F-9» ya aparece en la línea 10."
    assert settlement.lines.get(line_number=9).raw == f"{payment.reference},250.00,{paid_at}"
    assert (settlement.invalid_count, settlement.credited_count) == (9, 1)
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


def test_a_corrected_line_after_a_wrong_one_with_the_same_folio_still_lands(
    kona, contract, payment
):
    # given: the store sent a typo in the reference, then the corrected line
    wrong_digit = payment.reference[:-1] + str((int(payment.reference[-1]) + 1) % 10)
    content = settlement_csv(
        f"{wrong_digit},250.00,{an_hour_ago()},F-1",
        f"{payment.reference},250.00,{an_hour_ago()},F-1",
    )

    # when
    settlement = do_import(kona, content)

    # then
    assert outcomes(settlement) == [(2, "invalid"), (3, "credited")]


def test_a_line_with_several_problems_lists_them_all(kona):
    settlement = do_import(kona, settlement_csv("123,abc,ayer,F-1"))

    assert messages_by_line(settlement)[2] == (
        "amount «abc» no es un importe válido: usa dígitos, punto decimal y a lo más 2 "
        "decimales (p. ej. 250.00). paid_at «ayer» no es una fecha y hora ISO 8601 "
        "(p. ej. 2026-11-20T10:30:00-06:00)."
    )


def test_an_unknown_reference_is_unmatched_and_waits_in_the_queue(kona, contract):
    # given
    unknown = reference_new(prefix="111")

    # when
    settlement = do_import(kona, settlement_csv(f"{unknown},250.00,{an_hour_ago()},F-1"))

    # then
    line = settlement.lines.get()
    assert (line.outcome, line.applied, line.resolved, line.payment) == (
        "unmatched",
        False,
        False,
        None,
    )
    assert line.message == "Ningún pago de KONA tiene esta referencia."
    assert line.amount == Decimal("250.00") and line.reference == unknown
    assert not LedgerEntry.objects.exists()


def test_a_different_amount_holds_the_payment_and_queues_the_line(kona, contract, payment):
    # when
    settlement = do_import(kona, settlement_csv(f"{payment.reference},200.00,{an_hour_ago()},F-1"))

    # then
    line = settlement.lines.get()
    assert (line.outcome, line.payment, line.applied) == ("mismatch", payment, True)
    assert line.message == (
        "Se recibió $200.00 y se esperaba $250.00: el pago queda retenido para revisión."
    )
    payment.refresh_from_db()
    assert (payment.status, payment.paid_amount) == ("held", Decimal("200.00"))
    assert not LedgerEntry.objects.exists()
    contract.refresh_from_db()
    assert contract.credit_days() == 5


def test_another_providers_reference_is_unmatched(kona, contract):
    # given: Interatos' subscriber has a pending reference
    interatos = ProviderFactory(code="222", name="Interatos", currency="MXN")
    GatewayAccount.objects.create(provider=interatos, gateway="reference", expiry_days=3)
    theirs = reference_for(ContractFactory(provider=interatos))

    # when: KONA's file names it
    settlement = do_import(kona, settlement_csv(f"{theirs.reference},250.00,{an_hour_ago()},F-1"))

    # then
    assert outcomes(settlement) == [(2, "unmatched")]
    theirs.refresh_from_db()
    assert theirs.status == "pending"
    assert not theirs.events.exclude(kind="created").exists()


def test_a_reference_paid_after_it_expired_is_credited_and_flagged_late(kona, contract, payment):
    # given
    Payment.objects.filter(pk=payment.pk).update(
        expires_at=timezone.now() - datetime.timedelta(hours=2)
    )
    assert payments_expire() == 1
    before = contract.credit_days()

    # when
    settlement = do_import(kona, settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1"))

    # then
    line = settlement.lines.get()
    assert (line.outcome, line.message) == (
        "late",
        "Acreditado; se pagó después de vencer la referencia.",
    )
    payment.refresh_from_db()
    assert (payment.status, payment.paid_late) == ("paid", True)
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    assert (settlement.late_count, settlement.credited_count) == (1, 0)


def test_a_payment_already_paid_by_another_route_is_reported_not_credited(kona, contract, payment):
    # given: the subscriber's cash was confirmed by an agent first
    do_import(kona, settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},AGENTE"))

    # when: the store's file arrives with its own folio
    settlement = do_import(kona, settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1"))

    # then
    line = settlement.lines.get()
    assert (line.outcome, line.message) == (
        "already_paid",
        "La referencia ya estaba pagada; no se acreditó de nuevo.",
    )
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert payment.events.filter(kind="duplicate").count() == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"referencia,importe,fecha,folio\n1,2,3,4\n", "línea 1: faltan las columnas: reference"),
        (b"reference;amount;paid_at;folio\n", "línea 1: separa las columnas con comas"),
        (b"reference,amount,paid_at\n", "línea 1: faltan las columnas: folio"),
        (b"reference,amount,paid_at,folio,extra\n", "línea 1: sobran las columnas: extra"),
        (b"", "El archivo está vacío."),
        (
            HEADER.encode() + b"\n11100000000000,250.00,2026-11-20T10:30:00Z,F-\xf1\n",
            "línea 2: el archivo no está en UTF-8",
        ),
    ],
)
def test_a_file_with_a_wrong_header_or_not_utf8_is_refused_whole(
    kona, contract, payment, content, message
):
    # given: a good line would be in the file too
    content = content.replace(b"1,2,3,4", f"{payment.reference},250.00,{an_hour_ago()},F".encode())

    # when
    with pytest.raises(FileRefused) as refused:
        do_import(kona, content)

    # then
    assert str(refused.value).startswith(message)
    assert not SettlementImport.objects.exists()
    assert not SettlementLine.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"


def _first_folio_look_up_goes_stale(monkeypatch):
    """As if another import spent the folios right after this one looked them up."""
    looked_up = _LineApplier._folios_spent
    calls = []

    def stale_first_look(self, folios):
        calls.append(folios)
        return {} if len(calls) == 1 else looked_up(self, folios)

    monkeypatch.setattr(_LineApplier, "_folios_spent", stale_first_look)


def test_a_folio_spent_by_another_import_meanwhile_is_not_credited_twice(
    kona, contract, payment, monkeypatch
):
    """Two imports at once: the second finds the folio free, then loses the race."""
    # given
    content = settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1")
    do_import(kona, content)
    _first_folio_look_up_goes_stale(monkeypatch)

    # when
    settlement = do_import(kona, content)

    # then: the duplicate confirmation was undone with the line, and the line says why
    assert outcomes(settlement) == [(2, "already_paid")]
    assert "ya se aplicó" in messages_by_line(settlement)[2]
    assert not payment.events.filter(kind="duplicate").exists()
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


def test_another_layout_plugs_in_as_a_parser(kona, contract, payment, monkeypatch):
    """A store's fixed-width layout: 20 characters of reference, cents, epoch, folio."""

    class FixedWidth:
        name = "tienda"
        label = "Tienda"

        def parse(self, raw):
            for number, text in enumerate(raw.decode().splitlines(), start=1):
                if len(text) < 40:
                    yield LineProblem(number, "línea corta", raw=text)
                    continue
                yield ParsedLine(
                    line_number=number,
                    reference=text[:20].strip(),
                    amount=Decimal(int(text[20:30])) / 100,
                    paid_at=datetime.datetime.fromtimestamp(int(text[30:40]), tz=datetime.UTC),
                    folio=text[40:].strip(),
                )

    monkeypatch.setitem(SETTLEMENT_PARSERS, "tienda", FixedWidth())
    epoch = int((timezone.now() - datetime.timedelta(hours=1)).timestamp())
    content = f"{payment.reference:<20}{25000:010d}{epoch:010d}T-77\ncorta\n".encode()

    settlement = do_import(kona, content, parser_name="tienda")

    assert outcomes(settlement) == [(1, "credited"), (2, "invalid")]
    assert settlement.parser == "tienda"


def test_an_unknown_format_is_refused(kona):
    with pytest.raises(FileRefused, match="Formato desconocido «banco»"):
        do_import(kona, settlement_csv(), parser_name="banco")
    assert not SettlementImport.objects.exists()


def test_lines_that_need_no_confirmation_are_written_in_bulk(kona, django_assert_max_num_queries):
    """Unmatched and wrong lines cost a few queries per batch, not per line (450 lines: two
    look-ups, the inserts of as many rows as the database takes at once, the counts, and
    the import's two audit rows, received and applied, each in its own transaction)."""
    lines = [f"{reference_new(prefix='111')},250.00,{an_hour_ago()},F-{n}" for n in range(400)]
    lines += [f"123,250.00,{an_hour_ago()},G-{n}" for n in range(50)]

    with django_assert_max_num_queries(23):
        settlement = do_import(kona, settlement_csv(*lines))

    assert (settlement.unmatched_count, settlement.invalid_count) == (400, 50)


# --- The command -----------------------------------------------------------------------


def run_command(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_settlement", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_prints_the_report_and_exits_0_when_all_landed(
    kona, contract, payment, tmp_path
):
    # given
    path = tmp_path / "oxxo-2026-11-20.csv"
    path.write_bytes(settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1"))

    # when
    out, err = run_command("--provider", "111", str(path))

    # then
    settlement = SettlementImport.objects.get()
    assert out == (
        f"Liquidación #{settlement.pk} (oxxo-2026-11-20.csv): 1 línea. Acreditadas 1 "
        "(tras vencer 0), ya aplicadas 0, sin coincidencia 0, con diferencia 0, con error 0.\n"
    )
    assert err == ""
    payment.refresh_from_db()
    assert payment.status == "paid"


def test_the_command_lists_every_line_not_credited_and_exits_2(kona, contract, payment, tmp_path):
    # given
    unknown = reference_new(prefix="111")
    path = tmp_path / "liquidacion.csv"
    path.write_bytes(
        settlement_csv(
            f"{payment.reference},250.00,{an_hour_ago()},F-1",
            f"{unknown},250.00,{an_hour_ago()},F-2",
            f"{payment.reference},250.00,mañana,F-3",
        )
    )

    # when
    with pytest.raises(CommandError) as error:
        run_command("--provider", "111", "--format", "generic", str(path))

    # then
    assert error.value.returncode == 2
    assert str(error.value) == "Hay líneas con error o pendientes de revisión."
    settlement = SettlementImport.objects.get()
    assert (settlement.credited_count, settlement.unmatched_count, settlement.invalid_count) == (
        1,
        1,
        1,
    )


def test_the_command_output_names_each_line(kona, contract, payment, tmp_path):
    unknown = reference_new(prefix="111")
    path = tmp_path / "liquidacion.csv"
    path.write_bytes(
        settlement_csv(
            f"{payment.reference},250.00,{an_hour_ago()},F-1",
            f"{unknown},250.00,{an_hour_ago()},F-2",
            f"{payment.reference},250.00,mañana,F-3",
        )
    )
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("import_settlement", "--provider", "111", str(path), stdout=out)

    assert out.getvalue().splitlines()[1:] == [
        "línea 3: sin coincidencia — Ningún pago de KONA tiene esta referencia.",
        "línea 4: con error — paid_at «mañana» no es una fecha y hora ISO 8601 "
        "(p. ej. 2026-11-20T10:30:00-06:00).",
    ]


def test_the_command_refuses_a_bad_header_with_status_1_and_changes_nothing(
    kona, contract, payment, tmp_path
):
    path = tmp_path / "liquidacion.csv"
    path.write_bytes(b"referencia,monto\n" + f"{payment.reference},250.00\n".encode())
    err = StringIO()

    with pytest.raises(CommandError) as error:
        call_command("import_settlement", "--provider", "111", str(path), stderr=err)

    assert error.value.returncode == 1
    assert str(error.value) == "El archivo no se importó; no se acreditó nada."
    assert err.getvalue().splitlines()[0] == (
        "línea 1: faltan las columnas: reference, amount, paid_at, folio"
    )
    assert not SettlementImport.objects.exists()


def test_the_command_needs_a_known_provider_and_a_readable_file(kona, tmp_path):
    path = tmp_path / "liquidacion.csv"
    path.write_bytes(settlement_csv())
    with pytest.raises(CommandError, match="No hay un proveedor con el código 999."):
        run_command("--provider", "999", str(path))
    with pytest.raises(CommandError, match="No se puede leer"):
        run_command("--provider", "111", str(tmp_path / "no-existe.csv"))


# --- The admin -------------------------------------------------------------------------


@pytest.fixture
def _admin_without_totp(settings):
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def staff(_admin_without_totp, kona):
    """KONA's billing clerk: uploads settlement files and works the review queue."""
    user = UserFactory(provider=kona, username="ana", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="payments",
            codename__in=[
                "add_settlementimport",
                "view_settlementimport",
                "view_settlementline",
                "change_settlementline",
            ],
        )
    )
    return user


def upload(content: bytes, name="liquidacion.csv"):
    return SimpleUploadedFile(name, content, content_type="text/csv")


def test_staff_upload_a_file_and_see_its_report(
    client, staff, kona, contract, payment, django_capture_on_commit_callbacks
):
    # given
    client.force_login(staff)
    unknown = reference_new(prefix="111")
    listing = client.get("/admin/payments/settlementimport/").content.decode()
    assert f'<a href="{UPLOAD_URL}">Subir archivo</a>' in listing
    form = client.get(UPLOAD_URL).content.decode()
    assert 'type="file" name="settlement_file"' in form
    assert "<code>reference,amount,paid_at,folio</code>" in form

    # when (no broker: the queued apply runs as soon as the upload is committed)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            UPLOAD_URL,
            {
                "provider": kona.pk,
                "parser": "generic",
                "settlement_file": upload(
                    settlement_csv(
                        f"{payment.reference},250.00,{an_hour_ago()},F-1",
                        f"{unknown},99.00,{an_hour_ago()},F-2",
                    )
                ),
            },
        )

    # then
    settlement = SettlementImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/payments/settlementimport/{settlement.pk}/change/"
    assert settlement.uploaded_by == staff
    payment.refresh_from_db()
    assert payment.status == "paid"
    report = client.get(response["Location"]).content.decode()
    assert settlement_summary(settlement) in report
    assert 'data-line="2"' in report and 'data-line="3"' in report
    assert "Ningún pago de KONA tiene esta referencia." in report
    assert unknown in report


def test_a_large_upload_is_applied_by_the_worker_after_the_answer(
    client, staff, kona, payment, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    content = settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1")

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            UPLOAD_URL,
            {"provider": kona.pk, "parser": "generic", "settlement_file": upload(content)},
            follow=True,
        )

    # The answer came before any line was applied; the original file is kept.
    settlement = SettlementImport.objects.get()
    assert settlement.finished_at is None and not settlement.lines.exists()
    page = response.content.decode()
    assert "Archivo recibido: las líneas se están aplicando." in page
    assert "sin terminar" in page
    with settlement.upload.open("rb") as kept:
        assert kept.read() == content
    payment.refresh_from_db()
    assert payment.status == "pending"

    # The worker's turn.
    assert len(queued) == 1
    queued[0]()
    settlement.refresh_from_db()
    assert settlement.finished_at is not None and outcomes(settlement) == [(2, "credited")]
    report = client.get(f"/admin/payments/settlementimport/{settlement.pk}/change/").text
    assert "sin terminar" not in report
    payment.refresh_from_db()
    assert payment.status == "paid"


def test_an_import_stopped_half_way_carries_on_without_crediting_twice(
    kona, contract, payment, monkeypatch
):
    second = reference_for(a_second_contract(kona))
    content = settlement_csv(
        f"{payment.reference},250.00,{an_hour_ago()},F-1",
        "123,abc,2026-11-20T10:00:00-06:00,F-2",
        f"{second.reference},250.00,{an_hour_ago()},F-3",
    )
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")
    monkeypatch.setattr("payments.settlement.BATCH_SIZE", 2)
    applied = _LineApplier.apply
    calls = []

    def worker_dies_on_the_second_batch(self, batch):
        calls.append(batch)
        if len(calls) == 2:
            raise SystemExit("worker lost")
        applied(self, batch)

    monkeypatch.setattr(_LineApplier, "apply", worker_dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        settlement_import_apply(settlement=settlement)
    assert outcomes(settlement) == [(2, "credited"), (3, "invalid")]
    assert settlement.finished_at is None

    monkeypatch.setattr(_LineApplier, "apply", applied)
    settlement_import_apply_task.delay(settlement.pk)
    settlement_import_apply_task.delay(settlement.pk)  # delivered twice: nothing more

    settlement.refresh_from_db()
    assert outcomes(settlement) == [(2, "credited"), (3, "invalid"), (4, "credited")]
    assert (settlement.line_count, settlement.credited_count) == (3, 2)
    assert LedgerEntry.objects.filter(kind="payment").count() == 2


def test_carrying_on_a_stopped_import_still_knows_the_folios_it_saw(
    kona, contract, payment, monkeypatch
):
    content = settlement_csv(
        f"{reference_new(prefix='111')},99.00,{an_hour_ago()},F-1",  # unmatched, holds F-1
        f"{payment.reference},250.00,{an_hour_ago()},F-1",  # the same folio again
    )
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")
    monkeypatch.setattr("payments.settlement.BATCH_SIZE", 1)
    applied = _LineApplier.apply

    def worker_dies_after_the_first_line(self, batch):
        if batch[0].line_number > 2:
            raise SystemExit("worker lost")
        applied(self, batch)

    monkeypatch.setattr(_LineApplier, "apply", worker_dies_after_the_first_line)
    with pytest.raises(SystemExit):
        settlement_import_apply(settlement=settlement)
    monkeypatch.setattr(_LineApplier, "apply", applied)

    settlement_import_apply(settlement=settlement)

    assert outcomes(settlement) == [(2, "unmatched"), (3, "invalid")]
    assert "folio «F-1» ya aparece en la línea 2." in messages_by_line(settlement)[3]
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_a_batch_with_one_folio_lost_to_another_import_credits_the_others(
    kona, contract, payment, monkeypatch
):
    other = reference_for(a_second_contract(kona))
    do_import(kona, settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1"))
    _first_folio_look_up_goes_stale(monkeypatch)

    settlement = do_import(
        kona,
        settlement_csv(
            f"{payment.reference},250.00,{an_hour_ago()},F-1",
            f"{other.reference},250.00,{an_hour_ago()},F-2",
        ),
    )

    assert outcomes(settlement) == [(2, "already_paid"), (3, "credited")]
    other.refresh_from_db()
    assert other.status == "paid"
    assert LedgerEntry.objects.filter(kind="payment").count() == 2


def test_staff_set_an_unfinished_import_going_again_from_the_list(
    client, staff, kona, payment, django_capture_on_commit_callbacks
):
    content = settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1")
    stopped = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")
    finished = do_import(kona, settlement_csv(f"123,1.00,{an_hour_ago()},F-9"), "banco.csv")
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/payments/settlementimport/",
            {"action": "apply_unfinished", "_selected_action": [stopped.pk, finished.pk]},
            follow=True,
        )

    assert "1 liquidación sin terminar vuelve a aplicarse." in response.text
    stopped.refresh_from_db()
    assert stopped.finished_at is not None and outcomes(stopped) == [(2, "credited")]
    assert outcomes(finished) == [(2, "invalid")]
    payment.refresh_from_db()
    assert payment.status == "paid"


def test_an_upload_with_a_wrong_header_is_refused_with_400(client, staff, kona, payment):
    client.force_login(staff)

    response = client.post(
        UPLOAD_URL,
        {
            "provider": kona.pk,
            "parser": "generic",
            "settlement_file": upload(b"referencia;importe\n"),
        },
    )

    assert response.status_code == 400
    content = response.content.decode()
    assert "El archivo no se importó; no se acreditó nada." in content
    assert "línea 1: separa las columnas con comas, no con punto y coma." in content
    assert not SettlementImport.objects.exists()


def test_staff_of_an_isp_upload_only_for_their_isp(client, kona, payment, _admin_without_totp):
    interatos = ProviderFactory(code="222", name="Interatos")
    clerk = UserFactory(provider=interatos, is_staff=True, is_superuser=True)
    client.force_login(clerk)

    response = client.post(
        UPLOAD_URL,
        {
            "provider": kona.pk,
            "parser": "generic",
            "settlement_file": upload(
                settlement_csv(f"{payment.reference},250.00,{an_hour_ago()},F-1")
            ),
        },
    )

    assert response.status_code == 400
    assert not SettlementImport.objects.exists()


def test_staff_without_the_permission_cannot_upload(client, kona, _admin_without_totp):
    clerk = UserFactory(provider=None, is_staff=True)
    client.force_login(clerk)

    assert client.get(UPLOAD_URL).status_code == 403


def test_the_review_queue_shows_unresolved_unmatched_and_mismatched_lines(
    client, staff, kona, contract, payment
):
    # given
    other = reference_for(a_second_contract(kona))
    unknown = reference_new(prefix="111")
    do_import(
        kona,
        settlement_csv(
            f"{payment.reference},250.00,{an_hour_ago()},F-1",
            f"{other.reference},1.00,{an_hour_ago()},F-2",
            f"{unknown},250.00,{an_hour_ago()},F-3",
            f"123,250.00,{an_hour_ago()},F-4",
        ),
    )
    client.force_login(staff)

    # when
    queue = client.get(QUEUE_URL).context["cl"]

    # then
    assert sorted(line.folio for line in queue.result_list) == ["F-2", "F-3"]
    everything = client.get(QUEUE_URL + "?queue=all").context["cl"]
    assert everything.result_count == 4


def test_marking_lines_resolved_records_who_and_when(client, staff, kona, contract):
    # given
    unknown = reference_new(prefix="111")
    do_import(kona, settlement_csv(f"{unknown},250.00,{an_hour_ago()},F-1"))
    line = SettlementLine.objects.get()
    client.force_login(staff)

    # when
    response = client.post(
        QUEUE_URL, {"action": "resolve", "_selected_action": [line.pk]}, follow=True
    )

    # then
    assert "1 línea marcada como resuelta." in response.content.decode()
    line.refresh_from_db()
    assert (line.resolved, line.resolved_by) == (True, staff)
    assert timezone.now() - line.resolved_at < datetime.timedelta(minutes=1)
    assert client.get(QUEUE_URL).context["cl"].result_count == 0


def test_staff_of_an_isp_see_only_their_isps_queue(client, kona, contract, _admin_without_totp):
    do_import(kona, settlement_csv(f"{reference_new(prefix='111')},250.00,{an_hour_ago()},F-1"))
    interatos = ProviderFactory(code="222", name="Interatos")
    clerk = UserFactory(provider=interatos, is_staff=True, is_superuser=True)
    client.force_login(clerk)

    assert client.get(QUEUE_URL + "?queue=all").context["cl"].result_count == 0
    settlement = SettlementImport.objects.get()
    page = f"/admin/payments/settlementimport/{settlement.pk}/change/"
    assert client.get(page).status_code == 404


def test_a_gateways_own_reference_matches_without_our_check_digit(kona, contract):
    from stdnum import luhn

    reference = "93000123456789"
    assert not luhn.is_valid(reference)
    oxxo = Payment.objects.create(
        provider=kona,
        contract=contract,
        gateway="oxxopay",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference=reference,
        external_id="ord_1",
    )
    settlement = do_import(kona, settlement_csv(f"{reference},250.00,{an_hour_ago()},F-9"))
    assert outcomes(settlement) == [(2, "credited")]
    oxxo.refresh_from_db()
    assert oxxo.status == "paid"


# --- Applied in parts, by several workers at once --------------------------------------


def references_in_parts(contracts, parts: int = 2) -> list[Payment]:
    """One reference per contract, asked again until their lines fall in different parts.

    Lines are parted by reference (crc32), so which part a line lands in is known.
    """
    found: dict[int, Payment] = {}
    for contract in contracts:
        while True:
            payment = reference_for(contract)
            part = _part_of(
                ParsedLine(2, payment.reference, Decimal(1), timezone.now(), "F"), parts
            )
            if part not in found:
                found[part] = payment
                break
            payment_cancel(payment=payment, actor=None)
    return [found[part] for part in sorted(found)]


def test_parts_applied_in_any_order_give_the_report_of_one_run(kona, contract, payment):
    second = reference_for(a_second_contract(kona))
    lines = (
        f"{payment.reference},250.00,{an_hour_ago()},F-1",
        f"{reference_new(prefix='111')},99.00,{an_hour_ago()},F-2",  # unmatched
        "123,abc,2026-11-20T10:00:00-06:00,F-3",  # invalid
        f"{second.reference},200.00,{an_hour_ago()},F-4",  # a different amount
        f"{payment.reference},250.00,{an_hour_ago()},F-5",  # paid a second time
    )
    expected = [
        (2, "credited"),
        (3, "unmatched"),
        (4, "invalid"),
        (5, "mismatch"),
        (6, "already_paid"),
    ]
    content = settlement_csv(*lines)
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")

    for part in (2, 0, 1):
        assert settlement.finished_at is None
        settlement_import_apply(settlement=settlement, part=part, parts=3)

    settlement.refresh_from_db()
    assert settlement.finished_at is not None
    assert outcomes(settlement) == expected
    assert (settlement.line_count, settlement.credited_count, settlement.mismatch_count) == (
        5,
        1,
        1,
    )
    assert LedgerEntry.objects.filter(kind="payment").count() == 1


def test_only_the_part_that_records_the_last_line_finishes_the_import(kona, contract):
    first, second = references_in_parts([contract, a_second_contract(kona)])
    settlement = settlement_file_receive(
        provider=kona,
        raw=settlement_csv(
            f"{first.reference},250.00,{an_hour_ago()},F-1",
            f"{second.reference},250.00,{an_hour_ago()},F-2",
        ),
        filename="oxxo.csv",
    )

    settlement_import_apply(settlement=settlement, part=1, parts=2)

    settlement.refresh_from_db()
    assert outcomes(settlement) == [(3, "credited")]
    assert settlement.finished_at is None and settlement.line_count == 0
    settlement_import_apply(settlement=settlement, part=1, parts=2)  # delivered again
    assert outcomes(settlement) == [(3, "credited")]

    settlement_import_apply(settlement=settlement, part=0, parts=2)

    settlement.refresh_from_db()
    assert outcomes(settlement) == [(2, "credited"), (3, "credited")]
    assert settlement.finished_at is not None
    assert (settlement.line_count, settlement.credited_count) == (2, 2)


def test_a_folio_in_two_parts_is_held_by_its_first_good_line_whichever_part_runs_first(
    kona, contract
):
    first, second = references_in_parts([contract, a_second_contract(kona)])
    mistyped = first.reference[:-1] + str((int(first.reference[-1]) + 1) % 10)
    settlement = settlement_file_receive(
        provider=kona,
        raw=settlement_csv(
            f"{mistyped},250.00,{an_hour_ago()},F-1",  # a wrong check digit holds nothing
            f"{second.reference},250.00,{an_hour_ago()},F-1",  # holds F-1
            f"{first.reference},250.00,{an_hour_ago()},F-1",  # the same folio again
        ),
        filename="oxxo.csv",
    )

    settlement_import_apply(settlement=settlement, part=0, parts=2)
    settlement_import_apply(settlement=settlement, part=1, parts=2)

    assert outcomes(settlement) == [(2, "invalid"), (3, "credited"), (4, "invalid")]
    assert "folio «F-1» ya aparece en la línea 3." in messages_by_line(settlement)[4]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("pending", "paid")


def test_an_upload_is_applied_in_as_many_parts_as_set(
    client, staff, kona, contract, settings, django_capture_on_commit_callbacks
):
    settings.SETTLEMENT_APPLY_PARTS = 3
    payments = [reference_for(contract), reference_for(a_second_contract(kona))]
    client.force_login(staff)
    content = settlement_csv(
        *(f"{p.reference},250.00,{an_hour_ago()},F-{n}" for n, p in enumerate(payments))
    )

    with (
        mock.patch("payments.tasks.settlement_import_apply_task") as task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(
            UPLOAD_URL,
            {"provider": kona.pk, "parser": "generic", "settlement_file": upload(content)},
        )

    settlement = SettlementImport.objects.get()
    queued = [call.args for call in task.delay.call_args_list]
    assert queued == [(settlement.pk, 0, 3), (settlement.pk, 1, 3), (settlement.pk, 2, 3)]
    for arguments in reversed(queued):  # the workers take them in any order
        settlement_import_apply_task.delay(*arguments)
    settlement.refresh_from_db()
    assert settlement.finished_at is not None and settlement.credited_count == 2
    assert set(Payment.objects.values_list("status", flat=True)) == {"paid"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_parts_at_once_credit_every_line_once(kona, reference_account):
    plan = PlanFactory(provider=kona, price=Decimal("250.00"), period_days=30)
    contracts = [
        ContractFactory(provider=kona, plan=plan, paid_until=None, number=str(7000 + n))
        for n in range(6)
    ]
    # Each contract pays twice, with references that may fall in either part: both
    # parts lock the same contracts at once.
    payments = [
        payment
        for contract in contracts
        for payment in (reference_for(contract), _second_reference_for(contract))
    ]
    content = settlement_csv(
        *(f"{p.reference},250.00,{an_hour_ago()},F-{n}" for n, p in enumerate(payments))
    )
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")
    barrier = threading.Barrier(2)
    errors = []

    def apply(part):
        try:
            barrier.wait()
            settlement_import_apply(settlement=settlement, part=part, parts=2)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(part,)) for part in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    settlement.refresh_from_db()
    assert settlement.finished_at is not None
    assert (settlement.line_count, settlement.credited_count) == (12, 12)
    assert LedgerEntry.objects.filter(kind="payment").count() == 12
    for contract in contracts:
        contract.refresh_from_db()
        assert contract.paid_until == kona.today() + datetime.timedelta(days=60)


def _second_reference_for(contract) -> Payment:
    """Another pending reference of the contract: the first one's plan is taken."""
    plan = PlanFactory(provider=contract.provider, price=Decimal("250.00"), period_days=30)
    return payment_start(
        contract=contract, gateway="reference", method="cash", plan=plan, urls_for=lambda _: URLS
    )


def test_a_line_with_a_nul_byte_is_reported_and_the_good_lines_still_land(kona, contract, payment):
    # given
    content = settlement_csv(
        f"{payment.reference[:4]}\x00{payment.reference[4:]},250.00,{an_hour_ago()},F-1",
        f"{payment.reference},250.00,{an_hour_ago()},F-2",
    )

    # when
    settlement = do_import(kona, content)

    # then
    assert outcomes(settlement) == [(2, "invalid"), (3, "credited")]
    assert messages_by_line(settlement)[2] == (
        "reference lleva un caracter de control (U+0000); quítalo."
    )
    assert "\x00" not in settlement.lines.get(line_number=2).raw
    payment.refresh_from_db()
    assert payment.status == "paid"


@pytest.mark.parametrize(
    "paid_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1999-12-31T10:00:00-06:00"],
)
def test_a_date_out_of_range_is_a_reported_line_and_the_good_ones_still_land(
    kona, contract, payment, paid_at
):
    # given
    content = settlement_csv(
        f"{payment.reference},250.00,{paid_at},F-1",
        f"{payment.reference},250.00,{an_hour_ago()},F-2",
    )

    # when (twice: an import carried on later judges the line the same)
    settlement = do_import(kona, content)

    # then
    assert outcomes(settlement) == [(2, "invalid"), (3, "credited")]
    assert messages_by_line(settlement)[2] == (
        f"paid_at «{datetime.datetime.fromisoformat(paid_at).isoformat()}» está fuera de los "
        "años aceptados (2000 a 2099)."
    )
    assert settlement.finished_at is not None
    payment.refresh_from_db()
    assert payment.status == "paid"
