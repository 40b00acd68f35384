"""Crear una cuenta: Código + Contrato + Número → SMS code → Nueva cuenta → Bienvenida."""

import datetime

import pytest
import time_machine
from django.db import connection

from accounts import sms
from accounts.models import Contract, User, VerificationCode
from tests.factories import ContractFactory, ProviderFactory, UserFactory

from .helpers import claim_account, claim_code, claim_start, last_sms_code

# Flows send their SMS after commit: run them in real transactions.
pytestmark = pytest.mark.django_db(transaction=True)

SAME_ANSWER = "Si los datos coinciden, enviamos un código por SMS al número registrado."
WRONG_CODE = "El código no es válido o ya venció."


@pytest.fixture
def kona():
    return ProviderFactory(code="111", name="KONA", handle_domain="kona")


@pytest.fixture
def contract(kona):
    return ContractFactory(
        provider=kona,
        number="1001",
        phone="+525512345678",
        holder_name="Rosa Martínez Ruiz",
        installation_address="Av. Juárez 120, Centro",
        email="rosa@example.com",
    )


def test_claim_happy_path_creates_handle_and_lets_the_subscriber_in(client, contract):
    response = claim_start(client, phone="+52 55-1234 5678")
    assert response.status_code == 302
    assert response["Location"] == "/cuenta/crear/codigo/"
    assert len(sms.outbox) == 1
    assert sms.outbox[0].to == "+525512345678"
    assert "KONA" in sms.outbox[0].body

    response = claim_code(client, last_sms_code())
    assert response["Location"] == "/cuenta/crear/nueva/"

    page = client.get("/cuenta/crear/nueva/")
    assert "Rosa Martínez Ruiz" in page.text
    assert "Av. Juárez 120, Centro" in page.text
    assert "GUARDAR" in page.text

    response = claim_account(client, name="Rosa")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    login_page = client.get("/accounts/login/")
    assert "Tu cuenta rosa@kona está lista" in login_page.text

    contract.refresh_from_db()
    assert contract.user.username == "rosa@kona"
    assert contract.user.email == "rosa@example.com"
    assert contract.claimed_at is not None
    assert client.login(username="rosa@kona", password="una-clave-larga-2026")


def _strip_csrf(html: str) -> str:
    import re

    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def _claim_responses(client_factory, **fields):
    client = client_factory()
    start = claim_start(client, **fields)
    code = claim_code(client, "000000")
    page = client.get("/cuenta/crear/codigo/")
    return start, code, page


def test_wrong_contract_wrong_phone_and_wrong_code_answer_byte_identically(contract):
    from django.test import Client

    unknown_contract = _claim_responses(Client, number="9999")
    wrong_phone = _claim_responses(Client, phone="5599999999")
    right_data_wrong_code = _claim_responses(Client)
    for responses in (unknown_contract, wrong_phone, right_data_wrong_code):
        start, code, page = responses
        assert (start.status_code, start["Location"], start.content) == (
            302,
            "/cuenta/crear/codigo/",
            b"",
        )
        assert (code.status_code, code["Location"], code.content) == (
            302,
            "/cuenta/crear/codigo/",
            b"",
        )
    pages = {_strip_csrf(responses[2].text) for responses in (unknown_contract, wrong_phone)}
    pages.add(_strip_csrf(right_data_wrong_code[2].text))
    assert len(pages) == 1
    assert WRONG_CODE in pages.pop()
    assert len(sms.outbox) == 1  # only the matching contract got a code


def test_the_first_page_after_submitting_is_the_same_whether_or_not_data_matched(contract):
    from django.test import Client

    ProviderFactory(code="777", name=contract.provider.name)  # an ISP without that contract
    pages = set()
    for fields in ({}, {"number": "9999"}, {"code": "777"}, {"phone": "5500000000"}):
        client = Client()
        claim_start(client, **fields)
        pages.add(_strip_csrf(client.get("/cuenta/crear/codigo/").text))
    assert len(pages) == 1
    assert SAME_ANSWER in pages.pop()


def test_code_expires_after_ten_minutes(client, contract):
    start = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        claim_start(client)
        code = last_sms_code()
    with time_machine.travel(start + datetime.timedelta(minutes=10, seconds=1), tick=False):
        claim_code(client, code)
        assert client.session.get("claim_verified") is None
        assert WRONG_CODE in client.get("/cuenta/crear/codigo/").text


def test_code_works_within_ten_minutes(client, contract):
    start = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        claim_start(client)
        code = last_sms_code()
    with time_machine.travel(start + datetime.timedelta(minutes=9, seconds=59), tick=False):
        response = claim_code(client, code)
    assert response["Location"] == "/cuenta/crear/nueva/"


def test_a_code_works_once(client, contract):
    claim_start(client)
    code = last_sms_code()
    token = client.session["claim_token"]
    claim_code(client, code)
    # Replaying the same token and code (a second tab, a resubmitted form) is refused.
    session = client.session
    session["claim_token"] = token
    session.pop("claim_verified")
    session.save()
    response = claim_code(client, code)
    assert response["Location"] == "/cuenta/crear/codigo/"
    assert "claim_verified" not in client.session


def test_third_wrong_try_kills_the_code(client, contract):
    claim_start(client)
    code = last_sms_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        claim_code(client, wrong)
    response = claim_code(client, code)
    assert response["Location"] == "/cuenta/crear/codigo/"
    assert VerificationCode.objects.get().attempts == 3
    assert Contract.objects.get().user is None


def test_a_claimed_contract_cannot_be_claimed_again(client, contract):
    owner = UserFactory(provider=contract.provider, username="rosa@kona")
    contract.user = owner
    contract.save()
    response = claim_start(client)
    assert response["Location"] == "/cuenta/crear/codigo/"
    assert sms.outbox == []
    contract.refresh_from_db()
    assert contract.user == owner


def test_a_contract_claimed_between_code_and_guardar_is_not_taken(client, contract):
    claim_start(client)
    claim_code(client, last_sms_code())
    Contract.objects.filter(pk=contract.pk).update(user=UserFactory(provider=contract.provider))
    response = claim_account(client)
    assert response["Location"] == "/cuenta/crear/"
    assert not User.objects.filter(username="juan@kona").exists()


def test_suspended_or_cancelled_contracts_get_no_code(client, contract):
    contract.status = Contract.Status.CANCELLED
    contract.save()
    claim_start(client)
    assert sms.outbox == []


def test_contract_1001_at_two_isps_stays_separate(client, contract):
    other_isp = ProviderFactory(code="222", name="Interatos", handle_domain="interatos")
    other = ContractFactory(provider=other_isp, number="1001", phone="+525587654321")

    claim_start(client, code="222", number="1001", phone="5512345678")
    assert sms.outbox == []  # KONA's phone does not open Interatos' 1001

    claim_start(client, code="222", number="1001", phone="5587654321")
    assert [message.to for message in sms.outbox] == ["+525587654321"]
    claim_code(client, last_sms_code())
    claim_account(client, name="juan")

    other.refresh_from_db()
    contract.refresh_from_db()
    assert other.user.username == "juan@interatos"
    assert other.user.provider == other_isp
    assert contract.user is None


def test_the_same_name_at_two_isps_gives_two_handles(contract):
    from django.test import Client

    other_isp = ProviderFactory(code="222", handle_domain="interatos")
    ContractFactory(provider=other_isp, number="1001", phone="+525512345678")
    for code in ("111", "222"):
        client = Client()
        claim_start(client, code=code)
        claim_code(client, last_sms_code())
        claim_account(client, name="juan")
    assert sorted(User.objects.values_list("username", flat=True)) == [
        "juan@interatos",
        "juan@kona",
    ]


def test_a_taken_name_is_refused_on_the_field(client, contract):
    UserFactory(provider=contract.provider, username="juan@kona")
    claim_start(client)
    claim_code(client, last_sms_code())
    response = claim_account(client, name="juan")
    assert response.status_code == 400
    assert "La cuenta juan@kona ya existe" in response.text
    contract.refresh_from_db()
    assert contract.user is None


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("ju", "una-clave-larga-2026", "Usa de 3 a 30 minúsculas"),
        ("juan perez", "una-clave-larga-2026", "Usa de 3 a 30 minúsculas"),
        ("juan", "corta-1", "por lo menos 12 caracteres"),
        ("juan", "123456789012345", "completamente numérica"),
    ],
)
def test_bad_new_account_input_is_shown_on_the_field_and_changes_nothing(
    client, contract, name, password, message
):
    claim_start(client)
    claim_code(client, last_sms_code())
    response = claim_account(client, name=name, password=password)
    assert response.status_code == 400
    assert message in response.text
    assert not User.objects.filter(provider=contract.provider).exists()


def test_passwords_must_match(client, contract):
    claim_start(client)
    claim_code(client, last_sms_code())
    response = client.post(
        "/cuenta/crear/nueva/",
        {"name": "juan", "password1": "una-clave-larga-2026", "password2": "otra-clave-larga-2026"},
    )
    assert response.status_code == 400
    assert "Las contraseñas no coinciden." in response.text


def test_a_signed_in_subscriber_adds_a_second_contract_and_switches(client, contract):
    owner = UserFactory(provider=contract.provider, username="rosa@kona", phone=contract.phone)
    contract.user = owner
    contract.save()
    second = ContractFactory(provider=contract.provider, number="1002", phone="+525512345678")
    client.force_login(owner)

    claim_start(client, number="1002")
    claim_code(client, last_sms_code())
    page = client.get("/cuenta/crear/nueva/")
    assert "Agregaremos este contrato a tu cuenta rosa@kona." in page.text
    # The contract being added, not the one the session is on.
    assert "<dt>Contrato</dt><dd>1002</dd>" in page.text
    assert f"<dd>{second.installation_address}</dd>" in page.text
    response = client.post("/cuenta/crear/nueva/")
    assert response["Location"] == "/"

    second.refresh_from_db()
    assert second.user == owner
    home = client.get("/")
    assert 'data-testid="contract-number">1002<' in home.text

    client.post("/cuenta/contrato/", {"contract": contract.pk})
    home = client.get("/")
    assert 'data-testid="contract-number">1001<' in home.text


def test_switching_to_someone_elses_contract_is_404(client, contract):
    owner = UserFactory(provider=contract.provider)
    contract.user = owner
    contract.save()
    stranger_contract = ContractFactory(provider=contract.provider, number="2000")
    client.force_login(owner)
    response = client.post("/cuenta/contrato/", {"contract": stranger_contract.pk})
    assert response.status_code == 404
    assert client.session.get("current_contract_id") is None


def test_an_sms_gateway_error_changes_no_answer_keeps_the_message_and_logs_no_code(
    client, contract, settings, httpserver, caplog
):
    """A 503 only when the contract matched would tell a stranger it exists: the answer is
    the usual one, and the SMS waits in the outbox for the worker to try again."""
    from core.models import OutboxMessage

    settings.SMS_BACKEND = "accounts.sms.HttpBackend"
    settings.SMS_HTTP_URL = httpserver.url_for("/sms")
    settings.SMS_HTTP_TOKEN = "secret-token"
    httpserver.expect_request("/sms", method="POST").respond_with_data("boom", status=502)
    response = claim_start(client)
    assert response.status_code == 302
    assert response["Location"] == "/cuenta/crear/codigo/"
    waiting = OutboxMessage.objects.get()
    assert (waiting.task, waiting.attempts, waiting.last_error) == (
        "accounts.services.sms_deliver",
        1,
        "SmsDeliveryError",
    )
    sent = httpserver.log[0][0].get_json()
    assert sent["to"] == "+525512345678"
    code = sent["text"].split("código es ")[1][:6]
    assert code not in caplog.text
    assert "secret-token" not in caplog.text
    assert "502" in caplog.text


def test_codes_are_stored_only_as_hashes(client, contract):
    claim_start(client)
    code = last_sms_code()
    with connection.cursor() as cursor:
        cursor.execute("SELECT code_hash, token FROM accounts_verificationcode")
        ((code_hash, token),) = cursor.fetchall()
    assert code not in code_hash
    assert code not in token


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"code": "999"}, "provider_code", "No hay un proveedor con el código 999"),
        ({"code": "kona"}, "provider_code", "No hay un proveedor con el código kona"),
        ({"number": "uno"}, "number", "Escribe el número de contrato como viene"),
        ({"phone": "55 1234"}, "phone", "Escribe un celular válido, p. ej. 222 123 4567."),
        ({"phone": "tel: cinco cinco"}, "phone", "Escribe un celular válido"),
    ],
)
def test_a_claim_typed_wrong_is_told_on_its_field_and_sends_nothing(
    client, contract, fields, field, message
):
    response = claim_start(client, **fields)

    assert response.status_code == 400
    told = response.text.split(f'<div class="error" id="id_{field}_error" role="alert">')[1]
    assert message in told.split("</div>")[0]
    assert "claim_token" not in client.session
    assert VerificationCode.objects.count() == 0
    assert sms.outbox == []


def test_the_code_page_names_the_isps_support_phone(client, contract):
    contract.provider.support_phone = "800 123 4567"
    contract.provider.save()
    claim_start(client)

    page = client.get("/cuenta/crear/codigo/").text

    assert "Si no recibes el código, llama a KONA al" in page
    assert 'href="tel:8001234567"' in page


def test_adding_a_contract_is_not_the_create_an_account_page(client, contract):
    client.force_login(UserFactory(provider=contract.provider))

    page = client.get("/cuenta/crear/").text

    assert "Agregar otro contrato" in page
    assert "Ya tengo cuenta" not in page
    assert "Crear una cuenta" not in page
