"""The frame of every subscriber page, as HTML: the menu by billing mode with the current
page marked, «Salir» in the top bar, messages in one live region, and the 500 page that
renders with nothing from the request. (The layout itself is measured in a browser:
tests/browser/test_layout_browser.py.)"""

import re

import pytest
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from tests.factories import PASSWORD, ContractFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

MENU = re.compile(r'<nav class="menu"[^>]*>(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"([^>]*)>([^<]+)</a>')


def _subscriber(billing_mode: str):
    user = UserFactory()
    ContractFactory(
        provider=user.provider,
        user=user,
        billing_mode=billing_mode,
        plan=PlanFactory(provider=user.provider, billing_mode=billing_mode),
    )
    client = Client()
    client.force_login(user)
    return client


def _menu(page: str) -> list[tuple[str, str, bool, bool]]:
    """(label, href, shown in the phone's tab bar, current) of each menu entry."""
    menu = MENU.search(page)
    assert menu, "no menu"
    return [
        (label, href, 'class="extra"' not in attributes, 'aria-current="page"' in attributes)
        for href, attributes, label in LINK.findall(menu.group(1))
    ]


def test_prepaid_tabs_are_inicio_estado_de_cuenta_planes_soporte_mi_cuenta():
    page = _subscriber("prepaid").get("/").text
    assert _menu(page) == [
        ("Inicio", "/", True, True),
        ("Servicios", "/servicios/", False, False),
        ("Estado de cuenta", "/estado-de-cuenta/", True, False),
        ("Facturas", "/facturas/", False, False),
        ("Planes", "/planes/", True, False),
        ("Soporte", "/soporte/", True, False),
        ("Mi cuenta", "/cuenta/", True, False),
    ]


def test_postpaid_tabs_are_inicio_facturas_soporte_mi_cuenta_without_planes():
    page = _subscriber("postpaid").get("/").text
    assert _menu(page) == [
        ("Inicio", "/", True, True),
        ("Servicios", "/servicios/", False, False),
        ("Estado de cuenta", "/estado-de-cuenta/", False, False),
        ("Facturas", "/facturas/", True, False),
        ("Soporte", "/soporte/", True, False),
        ("Mi cuenta", "/cuenta/", True, False),
    ]


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/servicios/", "Servicios"),
        ("/estado-de-cuenta/", "Estado de cuenta"),
        ("/pagos/", "Estado de cuenta"),
        ("/facturas/", "Facturas"),
        ("/planes/", "Planes"),
        ("/soporte/", "Soporte"),
        ("/cuenta/", "Mi cuenta"),
        ("/accounts/password/change/", "Mi cuenta"),
    ],
)
def test_exactly_the_current_page_is_marked(path, current):
    response = _subscriber("prepaid").get(path)
    assert response.status_code == 200
    assert [label for label, _href, _tab, is_current in _menu(response.text) if is_current] == [
        current
    ]


def test_a_page_outside_the_menu_marks_nothing():
    response = _subscriber("prepaid").get("/no-existe/")
    assert response.status_code == 404
    assert "No encontramos esta página" in response.text
    assert not [entry for entry in _menu(response.text) if entry[3]]


def test_salir_is_a_post_form_with_csrf_in_the_top_bar():
    page = _subscriber("postpaid").get("/facturas/").text
    header = page[page.index("<header") : page.index("</header>")]
    assert re.search(
        r'<form method="post" action="/accounts/logout/" class="signout">'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="\w+">'
        r'<button type="submit">Salir</button></form>',
        header,
    ), header


def test_visitors_get_no_menu_and_no_salir():
    page = Client().get("/accounts/login/").text
    assert '<nav class="menu"' not in page
    assert "Salir" not in page


def test_messages_are_one_status_region_around_a_plain_list(client):
    user = UserFactory(username="ana@isp-mensajes")
    ContractFactory(provider=user.provider, user=user)
    response = client.post(
        "/accounts/login/", {"login": user.username, "password": PASSWORD}, follow=True
    )
    page = response.text
    region = re.search(
        r'<div class="messages" role="status">\s*<ul>(.*?)</ul>\s*</div>', page, re.S
    )
    assert region, page
    assert '<li class="message success">Hola, ana@isp-mensajes.</li>' in region.group(1)
    assert page.count('role="status"') == 1


def test_the_500_page_renders_without_the_request_or_its_context():
    """django.views.defaults.server_error renders 500.html with no context processors:
    no user, contract or nonce, and so no menu."""
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "<h1>Algo salió mal</h1>" in page
    assert 'href="/static/css/antena.css"' in page
    assert "<nav" not in page and "<style" not in page and "<script" not in page


def test_the_shared_fragments_follow_each_portal_language_and_phone():
    """The menu, the languages and the contact line are made once per process and
    reused: each page still gets its own portal's addresses, language and phone."""
    kona = _subscriber("prepaid")
    interatos = _subscriber("prepaid")
    kona_user, interatos_user = (
        UserFactory._meta.model.objects.get(pk=client.session["_auth_user_id"])
        for client in (kona, interatos)
    )
    kona_user.provider.support_phone = "81 1111 1111"
    kona_user.provider.save()
    interatos_user.provider.locale = "en"
    interatos_user.provider.support_phone = "351 222 2222"
    interatos_user.provider.save()

    kona_page = kona.get(f"/p/{kona_user.provider.code}/").text
    interatos_page = interatos.get(f"/p/{interatos_user.provider.code}/").text
    bare_page = kona.get("/").text

    kona_prefix = f"/p/{kona_user.provider.code}/"
    assert [href for _label, href, _tab, _now in _menu(kona_page)][:2] == [
        kona_prefix,
        f"{kona_prefix}servicios/",
    ]
    assert _menu(interatos_page)[0][:2] == ("Home", f"/p/{interatos_user.provider.code}/")
    assert _menu(bare_page)[0][:2] == ("Inicio", "/")
    assert "81 1111 1111" in kona_page and "351 222 2222" not in kona_page
    assert "351 222 2222" in interatos_page and "81 1111 1111" not in interatos_page
    assert '<option value="en" lang="en" selected>' in interatos_page
    assert '<option value="es" lang="es" selected>' in kona_page
