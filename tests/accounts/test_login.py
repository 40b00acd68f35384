"""Bienvenida: Cuenta (handle or e-mail) + Contraseña, Recordarme, INGRESAR; Salir."""

import pytest

from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def juan():
    kona = ProviderFactory(code="111", handle_domain="kona")
    user = UserFactory(provider=kona, username="juan@kona", email="juan@example.com")
    ContractFactory(provider=kona, number="1002", user=user)
    return user


def login(client, account, password=PASSWORD, remember=False):
    data = {"login": account, "password": password}
    if remember:
        data["remember"] = "on"
    return client.post("/accounts/login/", data)


def test_the_login_page_speaks_the_seed_labels(client):
    page = client.get("/accounts/login/")
    for label in (
        "Bienvenida",
        "Cuenta",
        "Contraseña",
        "Recordarme",
        "INGRESAR",
        "Olvidé mi contraseña",
        "Crear una cuenta",
    ):
        assert label in page.text


def test_login_by_handle(client, juan):
    response = login(client, "juan@kona")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert "<dt>Cuenta</dt><dd>juan@kona</dd>" in client.get("/").text


def test_login_by_handle_ignores_case(client, juan):
    assert login(client, "Juan@Kona")["Location"] == "/"


def test_login_by_email(client, juan):
    response = login(client, "juan@example.com")
    assert response["Location"] == "/"
    assert "<dt>Cuenta</dt><dd>juan@kona</dd>" in client.get("/").text


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, juan):
    wrong_password = login(client, "juan@kona", "no-es-la-clave-123")
    unknown_account = login(client, "nadie@kona", "no-es-la-clave-123")
    assert wrong_password.status_code == unknown_account.status_code == 200
    assert "_auth_user_id" not in client.session
    told = [
        page.text.split('<div class="errors" role="alert">')[1].split("</div>")[0]
        for page in (wrong_password, unknown_account)
    ]
    assert told[0] == told[1] and "<p>" in told[0]


def test_remember_me_keeps_the_session_thirty_days(client, juan):
    login(client, "juan@kona", remember=True)
    assert client.session.get_expire_at_browser_close() is False
    assert client.session.get_expiry_age() == 30 * 24 * 60 * 60
    assert client.cookies["sessionid"]["max-age"] == 30 * 24 * 60 * 60


def test_without_remember_me_the_session_ends_with_the_browser(client, juan):
    login(client, "juan@kona", remember=False)
    assert client.session.get_expire_at_browser_close() is True
    assert client.cookies["sessionid"]["max-age"] == ""


def test_inicio_shows_contract_titular_handle_and_credit_days(client, juan, settings):
    import datetime

    import time_machine

    contract = juan.contracts.get()
    contract.paid_until = datetime.date(2026, 12, 5)
    contract.holder_name = "Juan Pérez López"
    contract.save()
    client.force_login(juan)
    with time_machine.travel(datetime.datetime(2026, 11, 23, 18, 0, tzinfo=datetime.UTC)):
        page = client.get("/")
    assert 'data-testid="contract-number">1002<' in page.text
    assert "Juan Pérez López" in page.text
    assert "juan@kona" in page.text
    assert "<strong>12</strong> días de crédito restantes" in page.text
    for item in (
        "Inicio",
        "Servicios",
        "Estado de cuenta",
        "Facturas",
        "Planes prepago",
        "Soporte",
        "Mi cuenta",
    ):
        assert f">{item}</a>" in page.text


def test_inicio_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_salir_logs_out(client, juan):
    client.force_login(juan)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_subscribers_cannot_sign_up_outside_the_claim(client):
    from accounts.models import User

    client.post("/accounts/signup/", {"username": "intruso", "password1": PASSWORD})
    assert not User.objects.filter(username="intruso").exists()
    assert "_auth_user_id" not in client.session


def test_a_pbkdf2_password_is_rehashed_with_argon2id_at_sign_in(client, juan, settings):
    from django.contrib.auth.hashers import make_password

    from portal.settings.base import PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = PASSWORD_HASHERS
    juan.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    juan.save(update_fields=["password"])

    assert login(client, "juan@kona")["Location"] == "/"

    juan.refresh_from_db()
    assert juan.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    client.logout()
    assert login(client, "juan@kona")["Location"] == "/"  # the new hash verifies
