"""The pages in Jinja2: every string they translate reaches the catalogs through
`manage.py makemessages`, and allauth's own pages (Django templates) wear the same layout."""

import ast
import datetime
import re
from pathlib import Path

import pytest
import time_machine
from babel.messages.pofile import read_po
from django.conf import settings
from django.template.backends.jinja2 import Jinja2
from django.test import Client

from accounts.models import User
from portal.management.commands.makemessages import jinja2_messages
from tests.factories import PASSWORD, ContractFactory, UserFactory

JINJA2_DIR = Path(settings.BASE_DIR) / "templates" / "jinja2"
CATALOGS = sorted(Path(settings.BASE_DIR).glob("locale/*/LC_MESSAGES/django.po"))


def _calls(source: str) -> list[tuple[int, str, tuple]]:
    """(line, function, strings) of each gettext call makemessages hands to xgettext."""
    found = []
    for node in ast.walk(ast.parse(jinja2_messages(source))):
        if isinstance(node, ast.Call):
            strings = tuple(a.value for a in node.args if isinstance(a.value, str))
            found.append((node.lineno, node.func.id, strings))
    return sorted(found)


def test_makemessages_reads_each_kind_of_translation_on_its_line():
    source = (
        '{% extends "base.html" %}\n'
        '<a aria-label="{{ _(\'Menú\') }}">{{ pgettext("a change of service", "Cambio") }}</a>\n'
        "{% trans days=n %}{{ days }} día{% pluralize days %}{{ days }} días{% endtrans %}\n"
        '{% set due, total = _("Vencimiento"), _("Monto total") %}\n'
        "{% trans name=isp.name %}Portal de clientes de {{ name }}{% endtrans %}\n"
    )

    assert _calls(source) == [
        (2, "gettext", ("Menú",)),
        (2, "pgettext", ("a change of service", "Cambio")),
        (3, "ngettext", ("%(days)s día", "%(days)s días")),
        (4, "gettext", ("Monto total",)),
        (4, "gettext", ("Vencimiento",)),
        (5, "gettext", ("Portal de clientes de %(name)s",)),
    ]


@pytest.mark.parametrize("catalog", CATALOGS, ids=lambda path: path.parts[-3])
def test_every_string_of_the_pages_is_in_each_catalog(catalog):
    """Each catalog holds each string (English translates all of them, test_english.py)."""
    with catalog.open("rb") as po_file:
        held = {
            (message.context, message.id if isinstance(message.id, str) else message.id[0])
            for message in read_po(po_file)
            if message.id
        }
    templates = sorted(JINJA2_DIR.rglob("*.html"))
    missing = []
    for template in templates:
        for line, function, strings in _calls(template.read_text(encoding="utf-8")):
            with_context = function in ("pgettext", "npgettext")
            key = (strings[0], strings[1]) if with_context else (None, strings[0])
            if key not in held:
                missing.append(f"{template.relative_to(JINJA2_DIR)}:{line} {key[1]!r}")
    assert len(templates) > 30
    assert not missing, f"not in {catalog}; run `make messages`:\n" + "\n".join(missing)


@pytest.mark.django_db
def test_allauths_own_pages_wear_the_portals_layout(client):
    """The TOTP set-up page is allauth's, in Django's template language: it is shown in the
    portal's one layout (templates/allauth/layouts/base.html), with its own title."""
    User.objects.create_superuser("ana", "ana@example.com", PASSWORD)
    with time_machine.travel(
        datetime.datetime(2026, 11, 23, 15, 0, tzinfo=datetime.UTC), tick=False
    ):
        client.post("/accounts/login/", {"login": "ana", "password": PASSWORD})
        client.post("/accounts/reauthenticate/", {"password": PASSWORD})
        page = client.get("/accounts/2fa/totp/activate/")

    assert page.status_code == 200
    html = page.text
    assert html.startswith("<!doctype html>")
    assert html.count("<html") == 1
    assert '<nav class="menu"' in html and 'name="language"' in html  # the layout's menu and footer
    main = html.split("<main>")[1].split("</main>")[0]
    assert 'name="code"' in main  # allauth's form, inside the layout
    title = html.split("<title>")[1].split("</title>")[0]
    assert title.strip().endswith("· Antena") and not title.startswith("Portal de clientes")


@pytest.mark.django_db
def test_every_form_of_a_page_carries_one_token_that_the_server_takes():
    """Mi cuenta has four forms (Salir twice, Avisos, the language): each posts with the
    page's token, as a browser sends it, with the CSRF check on."""
    contract = ContractFactory(user=UserFactory())
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(contract.user)

    page = browser.get("/cuenta/").text
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert len(tokens) == 4 and len(set(tokens)) == 1

    saved = browser.post("/cuenta/avisos/", {"sms": "on", "csrfmiddlewaretoken": tokens[0]})
    refused = Client(enforce_csrf_checks=True)
    refused.force_login(contract.user)
    assert saved.status_code == 302
    assert refused.post("/cuenta/avisos/", {"sms": "on"}).status_code == 403


def test_a_missing_value_prints_nothing_with_debug_on_as_in_production(settings):
    """`make run` has DEBUG on, where Django's Jinja2 backend would print "{{ name }}"."""
    settings.DEBUG = True
    params = {key: value for key, value in settings.TEMPLATES[0].items() if key != "BACKEND"}
    engine = Jinja2({**params, "NAME": "debug"})
    page = engine.from_string("<p>{{ invoice }}{{ contract.number }}</p>")
    assert page.render({}) == "<p></p>"
