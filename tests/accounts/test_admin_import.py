"""Staff import contracts from a CSV in the admin: "Importar CSV" on the contract list."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Contract, User
from tests.factories import PASSWORD, PlanFactory, ProviderFactory, ZoneFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = "/admin/accounts/contract/importar/"
CHANGELIST_URL = "/admin/accounts/contract/"
HEADER = (
    "provider_code,contract_number,holder_name,installation_address,phone,email,"
    "zone,plan,billing_mode,paid_until,status"
)
ROSA = "111,1001,Rosa Martínez Ruiz,Av. Juárez 120,55 1234 5678,,Centro,Básico,prepaid,2026-12-15,active"  # noqa: E501
JUAN = "111,1002,Juan Pérez López,Calle Pino 45,5587654321,,Centro,Básico,prepaid,,active"


def upload(*lines: str) -> SimpleUploadedFile:
    content = "\n".join([HEADER, *lines]) + "\n"
    return SimpleUploadedFile("contratos.csv", content.encode(), content_type="text/csv")


@pytest.fixture(autouse=True)
def _admin_without_totp(settings):
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def kona():
    provider = ProviderFactory(code="111", name="KONA", handle_domain="kona", country="MX")
    ZoneFactory(provider=provider, name="Centro")
    PlanFactory(provider=provider, name="Básico")
    return provider


@pytest.fixture
def superuser():
    return User.objects.create_superuser("ana", "ana@example.com", PASSWORD)


def staff_with(*codenames: str) -> User:
    """Staff of KONA with these contract permissions."""
    staff = User.objects.create_user(
        "beto",
        "beto@example.com",
        PASSWORD,
        is_staff=True,
        provider=ProviderFactory(code="111", handle_domain="kona"),
    )
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames)
    )
    return staff


def test_the_contract_list_has_the_import_button(client, superuser):
    # given
    client.force_login(superuser)

    # when
    response = client.get(CHANGELIST_URL)

    # then
    assert response.status_code == 200
    assert f'<a href="{IMPORT_URL}">Importar CSV</a>' in response.content.decode()


def test_the_import_page_shows_the_form(client, superuser):
    # given
    client.force_login(superuser)

    # when
    response = client.get(IMPORT_URL)

    # then
    assert response.status_code == 200
    content = response.content.decode()
    assert 'type="file" name="rows_file"' in content
    assert 'type="checkbox" name="dry_run"' in content
    assert f"<code>{HEADER}</code>" in content


def test_a_good_file_is_imported_and_the_counts_are_shown(client, superuser, kona):
    # given
    client.force_login(superuser)

    # when
    response = client.post(IMPORT_URL, {"rows_file": upload(ROSA, JUAN)})

    # then
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST_URL
    assert [str(message) for message in get_messages(response.wsgi_request)] == [
        "Contratos importados: creados 2, actualizados 0, sin cambios 0."
    ]
    assert list(
        Contract.objects.order_by("number").values_list("number", "phone", "paid_until")
    ) == [
        ("1001", "+525512345678", datetime.date(2026, 12, 15)),
        ("1002", "+525587654321", None),
    ]


def test_a_bad_file_is_refused_with_400_every_error_listed_and_nothing_imported(
    client, superuser, kona
):
    # given
    client.force_login(superuser)
    bad_phone = ROSA.replace("55 1234 5678", "123")
    bad_zone = JUAN.replace("Centro", "Sur")

    # when
    response = client.post(IMPORT_URL, {"rows_file": upload(bad_phone, bad_zone)})

    # then
    assert response.status_code == 400
    content = response.content.decode()
    assert "El archivo tiene 2 errores; no se importó nada." in content
    assert "<li>línea 2: phone «123» no es un celular válido para MX.</li>" in content
    assert "<li>línea 3: zone «Sur» no existe en el proveedor 111.</li>" in content
    assert Contract.objects.count() == 0


def test_a_post_without_a_file_is_refused_with_400(client, superuser, kona):
    # given
    client.force_login(superuser)

    # when
    response = client.post(IMPORT_URL, {})

    # then
    assert response.status_code == 400
    assert response.context["form"].errors == {"rows_file": ["Este campo es obligatorio."]}


def test_only_validating_shows_the_counts_and_writes_nothing(client, superuser, kona):
    # given
    client.force_login(superuser)

    # when
    response = client.post(IMPORT_URL, {"rows_file": upload(ROSA, JUAN), "dry_run": "on"})

    # then
    assert response.status_code == 200
    assert (
        "Archivo válido, no se guardó nada. Al importarlo: creados 2, actualizados 0, "
        "sin cambios 0." in response.content.decode()
    )
    assert Contract.objects.count() == 0


def test_staff_who_can_add_but_not_change_contracts_cannot_import(client, kona):
    # given
    staff = staff_with("view_contract", "add_contract")
    client.force_login(staff)

    # when
    list_response = client.get(CHANGELIST_URL)
    page_response = client.get(IMPORT_URL)
    post_response = client.post(IMPORT_URL, {"rows_file": upload(ROSA)})

    # then
    assert list_response.status_code == 200
    assert "Importar CSV" not in list_response.content.decode()
    assert (page_response.status_code, post_response.status_code) == (403, 403)
    assert Contract.objects.count() == 0


def test_staff_who_can_add_and_change_contracts_can_import(client, kona):
    # given
    client.force_login(staff_with("add_contract", "change_contract"))

    # when
    response = client.post(IMPORT_URL, {"rows_file": upload(ROSA)})

    # then
    assert response.status_code == 302
    assert list(Contract.objects.values_list("number", flat=True)) == ["1001"]


def test_subscribers_cannot_reach_the_import_page(client, kona):
    # given a login without staff status
    subscriber = User.objects.create_user("rosa@kona", password=PASSWORD, provider=kona)
    client.force_login(subscriber)

    # when
    response = client.post(IMPORT_URL, {"rows_file": upload(ROSA)})

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Contract.objects.count() == 0


def test_a_nul_byte_in_an_upload_is_a_reported_line_not_a_500(client, superuser, kona):
    client.force_login(superuser)

    response = client.post(
        IMPORT_URL, {"rows_file": upload(ROSA.replace("Rosa", "Ro\x00sa"), JUAN)}
    )

    assert response.status_code == 400
    assert (
        "<li>línea 2: holder_name lleva un caracter de control (U+0000); quítalo.</li>"
        in response.content.decode()
    )
    assert not Contract.objects.exists()
