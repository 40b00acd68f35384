"""Contract CSV import: all lines good or nothing written; re-imports change nothing."""

import datetime
import io

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from accounts.models import Contract
from billing.imports import contracts_import
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "provider_code,contract_number,holder_name,installation_address,phone,email,"
    "zone,plan,billing_mode,paid_until,status"
)
ROSA = '111,1001,Rosa Martínez Ruiz,"Av. Juárez 120, Centro, CDMX",55 1234 5678,rosa@example.com,Centro,Plan Básico,prepaid,2026-12-15,active'  # noqa: E501
JUAN = "111,1002,Juan Pérez López,Calle Pino 45,5587654321,,Norte,Plan Avanzado,postpaid,,suspended"  # noqa: E501
MARTA_AR = (
    "222,1001,Marta Gómez,Calle Falsa 123,+54 9 11 2345-6789,,Palermo,Hogar 30,postpaid,,active"  # noqa: E501
)


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    text = "\r\n".join([HEADER, *lines]) + "\r\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def csv_file(*lines: str, bom: bool = False) -> io.BytesIO:
    return io.BytesIO(csv_bytes(*lines, bom=bom))


def call_command_from_argv(*argv: str) -> None:
    """Like `manage.py …`: a CommandError becomes a message on stderr and an exit status.

    run_from_argv closes every database connection when it ends, as a process would; the
    test's own transaction must survive it, so closing is skipped here.
    """
    from unittest import mock

    with mock.patch("django.core.management.base.connections.close_all"):
        load_command_class("billing", argv[0]).run_from_argv(["manage.py", *argv])


def contract_values(contract: Contract) -> dict:
    return {
        "provider": contract.provider.code,
        "number": contract.number,
        "holder_name": contract.holder_name,
        "installation_address": contract.installation_address,
        "phone": contract.phone,
        "email": contract.email,
        "zone": contract.zone.name,
        "plan": contract.plan.name,
        "billing_mode": contract.billing_mode,
        "paid_until": contract.paid_until,
        "status": contract.status,
        "user": contract.user,
        "claimed_at": contract.claimed_at,
    }


@pytest.fixture
def kona():
    provider = ProviderFactory(code="111", name="KONA", handle_domain="kona", country="MX")
    for name in ("Centro", "Norte"):
        ZoneFactory(provider=provider, name=name)
    PlanFactory(provider=provider, name="Plan Básico")
    PlanFactory(provider=provider, name="Plan Avanzado")
    return provider


@pytest.fixture
def interatos():
    provider = ProviderFactory(
        code="222",
        name="Interatos",
        handle_domain="interatos",
        country="AR",
        currency="ARS",
        locale="es_AR",
        time_zone="America/Argentina/Buenos_Aires",
    )
    ZoneFactory(provider=provider, name="Palermo")
    PlanFactory(provider=provider, name="Hogar 30", billing_mode="postpaid")
    return provider


def test_a_good_file_creates_every_contract_with_its_values(kona):
    # given a UTF-8 file with a BOM, as Excel saves "CSV UTF-8"
    rows_file = csv_file(ROSA, JUAN, bom=True)

    # when
    report = contracts_import(rows_file=rows_file)

    # then
    assert (report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, [])
    assert report.summary() == "Contratos importados: creados 2, actualizados 0, sin cambios 0."
    rosa, juan = Contract.objects.order_by("number")
    assert contract_values(rosa) == {
        "provider": "111",
        "number": "1001",
        "holder_name": "Rosa Martínez Ruiz",
        "installation_address": "Av. Juárez 120, Centro, CDMX",
        "phone": "+525512345678",
        "email": "rosa@example.com",
        "zone": "Centro",
        "plan": "Plan Básico",
        "billing_mode": "prepaid",
        "paid_until": datetime.date(2026, 12, 15),
        "status": "active",
        "user": None,
        "claimed_at": None,
    }
    assert contract_values(juan) == {
        "provider": "111",
        "number": "1002",
        "holder_name": "Juan Pérez López",
        "installation_address": "Calle Pino 45",
        "phone": "+525587654321",
        "email": "",
        "zone": "Norte",
        "plan": "Plan Avanzado",
        "billing_mode": "postpaid",
        "paid_until": None,
        "status": "suspended",
        "user": None,
        "claimed_at": None,
    }


def test_a_file_with_bad_lines_imports_nothing_and_names_every_bad_line(kona):
    # given one good line among lines with every kind of mistake
    rows_file = csv_file(
        ROSA,  # line 2, good
        "999,1003,Ana Ruiz,Calle 1,5512345678,,Centro,Plan Básico,prepaid,,active",
        "111,1004,,Calle 2,123,ana@,Sur,Plan Oro,mensual,31/12/2026,baja",
        "111,,Luis Díaz,,5512345678,,Centro,Plan Básico,prepaid,2026-02-30,active",
        "111,1001,Rosa Otra,Calle 3,5512345678,,Centro,Plan Básico,prepaid,,active",
        "111,1005,Pedro,Calle 4,5512345678,,Centro,Plan Básico,prepaid,active",
        "",  # a blank line is skipped, and still counts for the numbers after it
        ",,,,,,,,,,",
        " 111 ,1006, Eva ,Calle 5,5512345678,,Centro,Plan Básico,prepaid,,activo",
    )

    # when
    report = contracts_import(rows_file=rows_file)

    # then
    assert [str(error) for error in report.errors] == [
        "línea 3: provider_code «999» no es un proveedor conocido.",
        "línea 4: holder_name está vacío.",
        "línea 4: phone «123» no es un celular válido para MX.",
        "línea 4: email «ana@» no es un correo electrónico válido.",
        "línea 4: zone «Sur» no existe en el proveedor 111.",
        "línea 4: plan «Plan Oro» no existe en el proveedor 111.",
        "línea 4: billing_mode «mensual» no es válido; usa prepaid o postpaid.",
        "línea 4: paid_until «31/12/2026» no es una fecha válida AAAA-MM-DD.",
        "línea 4: status «baja» no es válido; usa active, suspended o cancelled.",
        "línea 5: contract_number está vacío.",
        "línea 5: installation_address está vacío.",
        "línea 5: paid_until «2026-02-30» no es una fecha válida AAAA-MM-DD.",
        "línea 6: contract_number «1001» de provider_code «111» ya aparece en la línea 2.",
        "línea 7: tiene 10 columnas y el encabezado tiene 11.",
        "línea 10: status «activo» no es válido; usa active, suspended o cancelled.",
    ]
    assert (report.created, report.updated, report.unchanged) == (0, 0, 0)
    assert report.summary() == "El archivo tiene 15 errores; no se importó nada."
    assert Contract.objects.count() == 0


def test_a_bad_header_is_reported_on_line_1_and_nothing_is_imported(kona):
    # given a header without e-mail and with a column of its own
    header = HEADER.replace(",email", "") + ",notes"
    rows_file = io.BytesIO(
        (
            header + "\n111,1001,Rosa,Calle 1,5512345678,Centro,Plan Básico,prepaid,,active,x\n"
        ).encode()
    )

    # when
    report = contracts_import(rows_file=rows_file)

    # then
    assert [str(error) for error in report.errors] == [
        "línea 1: faltan las columnas: email",
        "línea 1: sobran las columnas: notes",
    ]
    assert Contract.objects.count() == 0


def test_a_file_that_is_not_utf8_is_refused(kona):
    # given a file saved as Latin-1
    rows_file = io.BytesIO(csv_bytes(ROSA).decode().encode("latin-1"))

    # when
    report = contracts_import(rows_file=rows_file)

    # then
    assert [str(error) for error in report.errors] == [
        "línea 2: el archivo no está en UTF-8; guárdalo como «CSV UTF-8»."
    ]
    assert report.summary() == "El archivo tiene 1 error; no se importó nada."
    assert Contract.objects.count() == 0


def test_files_over_20000_lines_or_5_mb_are_refused_whole(kona):
    # given a file one line too long and a file one byte too big
    too_many_lines = csv_file(*[ROSA.replace("1001", str(n)) for n in range(20_000)])
    too_big = io.BytesIO(csv_bytes(ROSA) + b" " * (5 * 1024 * 1024))

    # when
    lines_report = contracts_import(rows_file=too_many_lines)
    size_report = contracts_import(rows_file=too_big)

    # then
    assert [str(error) for error in lines_report.errors] == [
        "El archivo tiene más de 20000 líneas; divídelo en partes más pequeñas."
    ]
    assert [str(error) for error in size_report.errors] == [
        "El archivo pesa más de 5 MB; divídelo en partes más pequeñas."
    ]
    assert Contract.objects.count() == 0


def test_importing_the_same_file_again_changes_nothing(kona):
    # given a file already imported
    contracts_import(rows_file=csv_file(ROSA, JUAN))
    before = list(Contract.objects.order_by("pk").values())

    # when
    report = contracts_import(rows_file=csv_file(ROSA, JUAN))

    # then
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 0, 2, [])
    assert list(Contract.objects.order_by("pk").values()) == before


def test_a_changed_file_updates_its_contracts_without_duplicating_them(kona):
    # given an imported file
    contracts_import(rows_file=csv_file(ROSA, JUAN))
    rosa_id = Contract.objects.get(number="1001").pk

    # when Rosa changes plan and vigencia, Juan stays, and 1003 is new
    rosa_changed = ROSA.replace("Plan Básico", "Plan Avanzado").replace("2026-12-15", "2027-01-15")
    new = "111,1003,Eva Luna,Calle 5,5511112222,,Norte,Plan Básico,prepaid,,active"
    report = contracts_import(rows_file=csv_file(rosa_changed, JUAN, new))

    # then
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 1, 1, [])
    assert list(Contract.objects.order_by("number").values_list("number", flat=True)) == [
        "1001",
        "1002",
        "1003",
    ]
    rosa = Contract.objects.get(number="1001")
    assert (rosa.pk, rosa.plan.name, rosa.paid_until) == (
        rosa_id,
        "Plan Avanzado",
        datetime.date(2027, 1, 15),
    )


def test_an_older_file_never_shortens_a_vigencia_that_payments_extended(kona):
    # given Rosa imported with vigencia 2026-12-15, then a payment extended it to 2027-01-14
    contracts_import(rows_file=csv_file(ROSA))
    Contract.objects.filter(number="1001").update(paid_until=datetime.date(2027, 1, 14))

    # when the same old export is imported again, and one with an empty vigencia
    first = contracts_import(rows_file=csv_file(ROSA))
    second = contracts_import(rows_file=csv_file(ROSA.replace("2026-12-15", "")))

    # then the paid vigencia stays
    assert (first.updated, first.unchanged, second.updated, second.unchanged) == (0, 1, 0, 1)
    assert Contract.objects.get(number="1001").paid_until == datetime.date(2027, 1, 14)


def test_a_claimed_contract_keeps_its_account_when_reimported(kona):
    # given contract 1001 claimed as rosa@kona
    user = UserFactory(provider=kona, username="rosa@kona")
    claimed_at = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC)
    ContractFactory(
        provider=kona,
        number="1001",
        zone=kona.zones.get(name="Centro"),
        plan=kona.plans.get(name="Plan Básico"),
        user=user,
        claimed_at=claimed_at,
    )

    # when the ISP's file has a new address for it
    report = contracts_import(rows_file=csv_file(ROSA))

    # then the contract is updated and still belongs to rosa@kona
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    contract = Contract.objects.get()
    assert contract.installation_address == "Av. Juárez 120, Centro, CDMX"
    assert (contract.user, contract.claimed_at) == (user, claimed_at)


def test_the_same_number_at_two_providers_is_two_contracts(kona, interatos):
    # when
    report = contracts_import(rows_file=csv_file(ROSA, MARTA_AR))

    # then
    assert (report.created, report.errors) == (2, [])
    assert list(
        Contract.objects.order_by("provider__code").values_list(
            "provider__code", "number", "holder_name", "phone"
        )
    ) == [
        ("111", "1001", "Rosa Martínez Ruiz", "+525512345678"),
        ("222", "1001", "Marta Gómez", "+5491123456789"),
    ]


def test_a_dry_run_counts_the_changes_and_writes_nothing(kona):
    # given contract 1001 imported
    contracts_import(rows_file=csv_file(ROSA))
    before = list(Contract.objects.values())

    # when a file that changes 1001 and adds 1002 is only checked
    rows_file = csv_file(ROSA.replace("active", "suspended"), JUAN)
    report = contracts_import(rows_file=rows_file, dry_run=True)

    # then
    assert (report.created, report.updated, report.unchanged, report.errors) == (1, 1, 0, [])
    assert report.summary() == (
        "Archivo válido, no se guardó nada. Al importarlo: creados 1, actualizados 1, "
        "sin cambios 0."
    )
    assert list(Contract.objects.values()) == before


def test_the_command_imports_a_file_and_prints_the_counts(kona, tmp_path, capsys):
    # given
    path = tmp_path / "contratos.csv"
    path.write_bytes(csv_bytes(ROSA, JUAN))

    # when
    call_command("import_contracts", str(path))

    # then
    assert capsys.readouterr().out == (
        "Contratos importados: creados 2, actualizados 0, sin cambios 0.\n"
    )
    assert Contract.objects.count() == 2


def test_the_command_dry_run_writes_nothing(kona, tmp_path, capsys):
    # given
    path = tmp_path / "contratos.csv"
    path.write_bytes(csv_bytes(ROSA, JUAN))

    # when
    call_command("import_contracts", str(path), "--dry-run")

    # then
    assert capsys.readouterr().out == (
        "Archivo válido, no se guardó nada. Al importarlo: creados 2, actualizados 0, "
        "sin cambios 0.\n"
    )
    assert Contract.objects.count() == 0


def test_the_command_exits_non_zero_and_lists_every_bad_line_on_stderr(kona, tmp_path, capsys):
    # given
    path = tmp_path / "contratos.csv"
    path.write_bytes(csv_bytes(ROSA, ROSA.replace("55 1234 5678", "123"), ROSA))

    # when run as `manage.py import_contracts FILE`
    with pytest.raises(SystemExit) as exit_info:
        call_command_from_argv("import_contracts", str(path))

    # then
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "línea 3: phone «123» no es un celular válido para MX.\n"
        "línea 3: contract_number «1001» de provider_code «111» ya aparece en la línea 2.\n"
        "línea 4: contract_number «1001» de provider_code «111» ya aparece en la línea 2.\n"
        "CommandError: El archivo tiene 3 errores; no se importó nada.\n"
    )
    assert Contract.objects.count() == 0


def test_the_command_raises_command_error_for_a_missing_file(tmp_path):
    # when / then
    with pytest.raises(CommandError, match="No se puede leer .*no-existe.csv"):
        call_command("import_contracts", str(tmp_path / "no-existe.csv"))


@pytest.mark.parametrize("paid_until", ["9999-12-31", "0001-01-01", "1999-12-31"])
def test_a_vigencia_out_of_range_is_a_bad_line_and_nothing_is_imported(kona, paid_until):
    report = contracts_import(rows_file=csv_file(ROSA.replace("2026-12-15", paid_until), JUAN))

    assert [str(error) for error in report.errors] == [
        f"línea 2: paid_until «{paid_until}» está fuera de los años aceptados (2000 a 2099)."
    ]
    assert not Contract.objects.exists()
