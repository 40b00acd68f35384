"""Olvidé mi contraseña (SMS code or e-mail link), Ajustes → cambiar contraseña, password rules."""

import re

import pytest
from django.core import mail

from accounts import sms
from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

from .helpers import claim_account, claim_code, claim_start, last_sms_code

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "otra-clave-muy-larga-77"


@pytest.fixture
def juan():
    kona = ProviderFactory(code="111", name="KONA", handle_domain="kona")
    user = UserFactory(provider=kona, username="juan@kona", phone="+525587654321")
    ContractFactory(provider=kona, number="1002", user=user, phone="+525587654321")
    return user


def reset_request(client, login):
    return client.post("/cuenta/recuperar/", {"login": login})


def test_reset_by_sms_code(client, juan):
    response = reset_request(client, "juan@kona")
    assert response["Location"] == "/cuenta/recuperar/codigo/"
    assert [message.to for message in sms.outbox] == ["+525587654321"]
    response = client.post("/cuenta/recuperar/codigo/", {"code": last_sms_code()})
    assert response["Location"] == "/cuenta/recuperar/nueva/"
    assert "juan@kona" in client.get("/cuenta/recuperar/nueva/").text
    response = client.post(
        "/cuenta/recuperar/nueva/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response["Location"] == "/accounts/login/"
    juan.refresh_from_db()
    assert juan.check_password(NEW_PASSWORD)
    assert not juan.check_password(PASSWORD)


def test_reset_answers_the_same_for_an_unknown_account(juan):
    from django.test import Client

    answers = []
    for login in ("juan@kona", "nadie@kona"):
        client = Client()
        response = reset_request(client, login)
        page = client.get(response["Location"]).text
        answers.append(
            (
                response.status_code,
                response["Location"],
                re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page),
            )
        )
    assert answers[0] == answers[1]
    assert len(sms.outbox) == 1


def test_a_wrong_reset_code_changes_nothing(client, juan):
    reset_request(client, "juan@kona")
    code = last_sms_code()
    client.post("/cuenta/recuperar/codigo/", {"code": "000000" if code != "000000" else "111111"})
    response = client.post(
        "/cuenta/recuperar/nueva/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response["Location"] == "/cuenta/recuperar/"
    juan.refresh_from_db()
    assert juan.check_password(PASSWORD)


def test_reset_by_email_link_when_the_account_has_one(client, juan):
    juan.email = "juan@example.com"
    juan.save()
    reset_request(client, "juan@example.com")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["juan@example.com"]
    link = re.search(r"http://testserver(/\S+)", mail.outbox[0].body).group(1)
    response = client.get(link, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else link
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    juan.refresh_from_db()
    assert juan.check_password(NEW_PASSWORD)


def test_change_password_in_ajustes(client, juan):
    client.force_login(juan)
    assert "Ajustes: cambiar contraseña" in client.get("/cuenta/").text
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    juan.refresh_from_db()
    assert juan.check_password(NEW_PASSWORD)
    assert "_auth_user_id" in client.session  # still signed in


def test_change_password_needs_the_current_one(client, juan):
    client.force_login(juan)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "no-es-esta", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    juan.refresh_from_db()
    assert juan.check_password(PASSWORD)


def _claim_with_password(client, provider_code, password):
    claim_start(client, code=provider_code, number="1001", phone="5512345678")
    claim_code(client, last_sms_code())
    return claim_account(client, name="juan", password=password)


def test_special_character_rule_applies_only_where_the_isp_asks_for_it(client):
    interatos = ProviderFactory(
        code="222", handle_domain="interatos", require_special_character=True
    )
    kona = ProviderFactory(code="111", handle_domain="kona", require_special_character=False)
    ContractFactory(provider=interatos, number="1001", phone="+525512345678")
    ContractFactory(provider=kona, number="1001", phone="+525512345678")

    refused = _claim_with_password(client, "222", "sincaracterespecial2026")
    assert refused.status_code == 400
    assert "al menos un caracter especial" in refused.text
    accepted = _claim_with_password(client, "222", "con.caracter.especial2026")
    assert accepted.status_code == 302

    from django.test import Client

    kona_client = Client()
    assert _claim_with_password(kona_client, "111", "sincaracterespecial2026").status_code == 302


def test_special_character_rule_also_guards_password_change(client):
    interatos = ProviderFactory(
        code="222", handle_domain="interatos", require_special_character=True
    )
    user = UserFactory(provider=interatos, username="laura@interatos")
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {
            "oldpassword": PASSWORD,
            "password1": "sincaracterespecial2026",
            "password2": "sincaracterespecial2026",
        },
    )
    assert "al menos un caracter especial" in response.text
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_password_rules_show_before_the_first_try(client, juan):
    client.force_login(juan)

    page = client.get("/accounts/password/change/").text

    assert "Al menos 12 caracteres" in page
    assert "Contraseña actual" in page
    assert 'href="/cuenta/recuperar/"' in page  # Olvidé mi contraseña: the one reset
    assert "Ha olvidado" not in page


def test_a_refused_new_password_keeps_what_was_typed(client, juan):
    client.force_login(juan)

    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": "no-es-esta", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert response.text.count(f'value="{NEW_PASSWORD}"') == 2
    assert 'value="no-es-esta"' not in response.text  # the current one is never sent back


def test_the_e_mail_only_reset_leads_to_olvide_mi_contrasena(client):
    response = client.get("/accounts/password/reset/")

    assert response.status_code == 302
    assert response["Location"] == "/cuenta/recuperar/"


def test_a_wrong_sign_in_is_told_in_the_portals_words(client, juan):
    response = client.post("/accounts/login/", {"login": "juan@kona", "password": "nope"})

    assert "La cuenta o la contraseña no son correctas." in response.text


def test_two_different_new_passwords_are_told_in_the_portals_words(client, juan):
    client.force_login(juan)

    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"},
    )

    assert response.status_code == 200
    assert "Las contraseñas no coinciden." in response.text
    assert "Debe escribir" not in response.text
    juan.refresh_from_db()
    assert juan.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("path", "to"),
    [
        ("/accounts/email/", "/cuenta/"),
        ("/accounts/password/set/", "/accounts/password/change/"),
        ("/accounts/password/reset/done/", "/cuenta/recuperar/"),
    ],
)
def test_allauths_pages_for_no_one_lead_to_ours(client, juan, path, to):
    client.force_login(juan)

    response = client.get(path)

    assert (response.status_code, response["Location"]) == (302, to)
