"""English, the second language: the catalog is complete and the pages switch to it.

Spanish is LANGUAGE_CODE and the msgids are Spanish; English comes from
locale/en/LC_MESSAGES/django.po, compiled to django.mo by `manage.py compile_translations`.
"""

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import Client

from tests.factories import ContractFactory, UserFactory

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
CATALOG = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|<[^>]+>")

MENU_ES = ["Inicio", "Servicios", "Estado de cuenta", "Facturas", "Planes", "Soporte"]
MENU_EN = ["Home", "Services", "Account statement", "Invoices", "Plans", "Support"]


def _english_client(how: str) -> Client:
    """A fresh client that asks for English the way a visitor would."""
    if how == "accept-language":
        return Client(headers={"accept-language": "en"})
    client = Client()
    if how == "setlang":
        response = client.post("/i18n/setlang/", {"language": "en", "next": LOGIN_URL})
        assert response.status_code == 302
        assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    else:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _messages(catalog) -> dict:
    """msgid -> msgstr of the translated entries; plurals as tuples (the .mo gives lists)."""

    def key(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {key(m.id): key(m.string) for m in catalog if m.id and m.string and not m.fuzzy}


def test_every_catalog_entry_is_translated_with_its_placeholders():
    with CATALOG.open("rb") as po_file:
        catalog = read_po(po_file)
    assert not catalog.fuzzy
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        for source, string in zip(ids * len(strings), strings, strict=False):
            if sorted(PLACEHOLDER.findall(source)) != sorted(PLACEHOLDER.findall(string)):
                problems.append(f"placeholders differ: {source!r} -> {string!r}")
    assert not problems, "\n".join(problems)


def test_compiled_catalog_matches_the_po_file():
    with CATALOG.open("rb") as po_file:
        po = _messages(read_po(po_file))
    mo_path = CATALOG.with_suffix(".mo")
    assert mo_path.exists(), "run `manage.py compile_translations`"
    with mo_path.open("rb") as mo_file:
        mo = _messages(read_mo(mo_file))
    assert mo == po, "django.mo is stale: run `manage.py compile_translations`"


def test_login_page_is_spanish_by_default():
    page = Client().get(LOGIN_URL).text
    assert '<html lang="es">' in page
    for label in ["Bienvenida", ">Cuenta</label>", ">Contraseña</label>", "Recordarme"]:
        assert label in page
    assert "INGRESAR" in page
    assert "Olvidé mi contraseña" in page and "Crear una cuenta" in page
    for english in ["Welcome", "Password", "Remember me", "SIGN IN"]:
        assert english not in page


@pytest.mark.parametrize("how", ["setlang", "cookie", "accept-language"])
def test_login_page_in_english(how):
    page = _english_client(how).get(LOGIN_URL).text
    assert '<html lang="en">' in page
    for label in ["Welcome", ">Account</label>", ">Password</label>", "Remember me"]:
        assert label in page
    assert "SIGN IN" in page
    assert "I forgot my password" in page and "Create an account" in page
    assert 'placeholder="juan@kona or your email"' in page
    for spanish in ["Bienvenida", "Contraseña", "Recordarme", "INGRESAR", "Olvidé"]:
        assert spanish not in page


def test_login_page_switches_back_to_spanish():
    client = _english_client("setlang")
    assert "SIGN IN" in client.get(LOGIN_URL).text
    client.post("/i18n/setlang/", {"language": "es", "next": LOGIN_URL})
    page = client.get(LOGIN_URL).text
    assert "INGRESAR" in page and "SIGN IN" not in page


def _subscriber():
    user = UserFactory()
    ContractFactory(provider=user.provider, user=user, billing_mode="prepaid")
    return user


def test_home_menu_in_spanish_by_default():
    client = Client()
    client.force_login(_subscriber())
    page = client.get("/").text
    for item in [*MENU_ES, "Mi cuenta"]:
        assert f">{item}</a>" in page
    assert ">Salir</button>" in page
    assert "de crédito restante" in page


def test_home_menu_and_content_in_english():
    client = _english_client("cookie")
    client.force_login(_subscriber())
    page = client.get("/").text
    assert '<html lang="en">' in page
    for item in [*MENU_EN, "My account"]:
        assert f">{item}</a>" in page
    assert ">Sign out</button>" in page
    assert "of credit left" in page
    assert "Valid until:" in page
    assert "<dt>Contract</dt>" in page and "<dt>Account holder</dt>" in page
    for item in MENU_ES:
        assert f">{item}</a>" not in page


def test_invoices_page_in_english():
    client = _english_client("cookie")
    client.force_login(_subscriber())
    page = client.get("/facturas/").text
    assert "<h1>Invoices</h1>" in page
    assert "You don't have any invoices yet." in page
