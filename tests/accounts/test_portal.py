"""Each ISP's own portal: its host or /p/<code>/; its name on the sign-in; its own
subscribers only; a session belongs to one ISP; the bare routes keep working."""

import pytest

from accounts import sms
from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kona():
    return ProviderFactory(
        code="111",
        name="KONA",
        handle_domain="kona",
        tagline="Internet en tu comunidad",
        support_phone="800 123 4567",
    )


@pytest.fixture
def interatos():
    return ProviderFactory(code="222", name="Interatos", handle_domain="interatos", country="AR")


@pytest.fixture
def juan(kona):
    user = UserFactory(provider=kona, username="juan@kona", email="juan@example.com")
    ContractFactory(provider=kona, number="1002", user=user, phone="+525512345678")
    return user


def test_the_sign_in_of_an_isps_portal_is_its_own(client, kona):
    page = client.get("/p/111/accounts/login/")

    assert page.status_code == 200
    assert "Bienvenido al Portal de Clientes de KONA" in page.text
    assert "Internet en tu comunidad" in page.text
    assert 'href="tel:8001234567"' in page.text
    # Every link stays on the ISP's portal.
    assert 'action="/p/111/accounts/login/"' in page.text
    assert 'href="/p/111/cuenta/recuperar/"' in page.text
    assert 'href="/p/111/cuenta/crear/"' in page.text


def test_a_subscriber_signs_in_and_stays_on_the_isps_portal(client, juan):
    response = client.post("/p/111/accounts/login/", {"login": "juan@kona", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/p/111/"
    home = client.get("/p/111/")
    assert home.status_code == 200
    assert "<dt>Cuenta</dt><dd>juan@kona</dd>" in home.text
    assert 'href="/p/111/facturas/"' in home.text or 'href="/p/111/estado-de-cuenta/"' in home.text


def test_each_address_keeps_to_the_portal_it_is_shown_on(client, kona, interatos):
    # Addresses are reversed once per process and kept: the portal's prefix is part of
    # what is kept, so neither portal's links leak into the other's or the bare routes'.
    for path, prefix in [
        ("/p/111/", "/p/111/"),
        ("/", "/"),
        ("/p/222/", "/p/222/"),
        ("/p/111/", "/p/111/"),
    ]:
        page = client.get(f"{path}accounts/login/")

        assert f'action="{prefix}accounts/login/"' in page.text, path
        assert f'href="{prefix}cuenta/crear/"' in page.text, path


def test_another_isps_subscriber_cannot_sign_in_on_this_portal(client, juan, interatos):
    response = client.post("/p/222/accounts/login/", {"login": "juan@kona", "password": PASSWORD})

    assert response.status_code == 200
    assert '<div class="errors" role="alert">' in response.text
    assert "_auth_user_id" not in client.session


def test_a_session_belongs_to_one_isp(client, juan, interatos):
    client.force_login(juan)

    elsewhere = client.get("/p/222/")

    assert elsewhere.status_code == 302
    assert elsewhere["Location"].startswith("/p/222/accounts/login/")
    assert client.get("/p/111/").status_code == 200  # still signed in on KONA's


def test_an_unknown_isp_code_is_a_404(client, kona):
    assert client.get("/p/999/accounts/login/").status_code == 404


def test_the_admin_and_webhooks_are_not_under_a_portal(client, kona):
    assert client.get("/p/111/admin/").status_code == 404
    assert client.get("/p/111/healthz").status_code == 404


def test_the_portal_at_the_isps_own_host(client, kona, settings):
    settings.ALLOWED_HOSTS = ["portal.kona.mx", "testserver"]
    kona.portal_host = "portal.kona.mx"
    kona.save()

    page = client.get("/accounts/login/", HTTP_HOST="portal.kona.mx")

    assert "Bienvenido al Portal de Clientes de KONA" in page.text
    assert 'action="/accounts/login/"' in page.text


def test_the_portal_under_antena_domain(client, kona, settings):
    settings.ANTENA_DOMAIN = "antena.example"
    settings.ALLOWED_HOSTS = [".antena.example"]

    page = client.get("/accounts/login/", HTTP_HOST="kona.antena.example")

    assert "Bienvenido al Portal de Clientes de KONA" in page.text


def test_the_bare_routes_keep_working(client, juan):
    page = client.get("/accounts/login/")
    assert page.status_code == 200
    assert "Bienvenido al Portal de Clientes" not in page.text
    response = client.post("/accounts/login/", {"login": "juan@kona", "password": PASSWORD})
    assert response["Location"] == "/"


def test_claiming_on_a_portal_does_not_ask_the_isps_code(
    client, kona, django_capture_on_commit_callbacks
):
    ContractFactory(provider=kona, number="1001", phone="+525512345678")

    page = client.get("/p/111/cuenta/crear/")
    assert 'name="provider_code"' not in page.text
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/p/111/cuenta/crear/", {"number": "1001", "phone": "5512345678"})

    assert response["Location"] == "/p/111/cuenta/crear/codigo/"
    assert [message.to for message in sms.outbox] == ["+525512345678"]


def test_a_claim_link_fills_in_the_isps_code(client, kona):
    page = client.get("/cuenta/crear/?codigo=111")

    assert 'name="provider_code" value="111"' in page.text


def test_a_reset_on_a_portal_reaches_only_that_isps_login(
    client, juan, interatos, django_capture_on_commit_callbacks
):
    ana = UserFactory(provider=interatos, username="ana@interatos", email="juan@example.com")
    ContractFactory(provider=interatos, number="2001", user=ana, phone="+5493511234567")

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/p/222/cuenta/recuperar/", {"login": "juan@example.com"})

    # The same e-mail at KONA (an older login) gets nothing from Interatos's portal.
    assert [message.to for message in sms.outbox] == ["+5493511234567"]


def test_each_isp_has_its_aviso_de_privacidad(client, kona, interatos):
    interatos.privacy_notice = "Interatos S.R.L. trata sus datos conforme a la Ley 25.326."
    interatos.save()

    own = client.get("/p/222/cuenta/aviso-de-privacidad/").text
    default = client.get("/p/111/cuenta/aviso-de-privacidad/").text

    assert "Interatos S.R.L. trata sus datos conforme a la Ley 25.326." in own
    assert "ARCO" in default and "KONA" in default
    claim = client.get("/p/111/cuenta/crear/").text
    assert 'href="/p/111/cuenta/aviso-de-privacidad/"' in claim


def _link_in(mail_message) -> str:
    import re

    return re.search(r"https?://\S+", mail_message.body).group(0)


def test_primer_ingreso_by_e_mail_lets_the_holder_create_the_account(
    client, kona, django_capture_on_commit_callbacks, mailoutbox
):
    kona.claim_by_email = True
    kona.save()
    contract = ContractFactory(provider=kona, number="1001", email="rosa@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/p/111/cuenta/crear/correo/", {"number": "1001", "email": "Rosa@Example.com"}
        )
    assert response["Location"] == "/p/111/accounts/login/"
    (message,) = mailoutbox
    assert message.to == ["rosa@example.com"] and message.subject == "KONA: crea tu cuenta"
    link = _link_in(message)
    assert link.startswith("http://testserver/p/111/cuenta/crear/enlace/")

    page = client.get(link.removeprefix("http://testserver"), follow=True)
    assert "Nueva cuenta" in page.text and contract.holder_name in page.text
    client.post(
        "/p/111/cuenta/crear/nueva/",
        {"name": "rosa", "password1": "una-clave-larga-2026", "password2": "una-clave-larga-2026"},
    )
    contract.refresh_from_db()
    assert contract.user.username == "rosa@kona"
    # Used once: the contract has its account.
    again = client.get(link.removeprefix("http://testserver"), follow=True)
    assert "El enlace venció, ya se usó" in again.text


@pytest.mark.parametrize(
    ("claim_by_email", "email"),
    [(True, "otra@example.com"), (False, "rosa@example.com")],
)
def test_primer_ingreso_answers_alike_and_sends_nothing_when_it_should_not(
    client, kona, django_capture_on_commit_callbacks, mailoutbox, claim_by_email, email
):
    kona.claim_by_email = claim_by_email
    kona.save()
    ContractFactory(provider=kona, number="1001", email="rosa@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/p/111/cuenta/crear/correo/", {"number": "1001", "email": email})

    assert response["Location"] == "/p/111/accounts/login/"
    assert mailoutbox == []


def test_a_tampered_claim_link_leads_nowhere(client, kona):
    response = client.get("/cuenta/crear/enlace/eyJjb250cmFjdCI6MX0:abc:def/", follow=True)

    assert "El enlace venció, ya se usó" in response.text
    assert "claim_verified" not in client.session


def test_every_page_of_a_portal_wears_the_isps_brand(client, kona):
    from django.core.files.base import ContentFile

    kona.brand_color = "#c62828"
    kona.logo.save("kona.png", ContentFile(b"\x89PNG\r\n\x1a\nlogo"), save=True)

    for path in ("/p/111/accounts/login/", "/p/111/cuenta/crear/", "/p/111/cuenta/recuperar/"):
        page = client.get(path).text
        assert "--brand: #c62828" in page, path
        assert '<img src="/p/111/cuenta/logo/111/"' in page, path
        assert "Internet en tu comunidad" in page, path
        assert 'href="/p/111/cuenta/aviso-de-privacidad/"' in page, path
        assert 'href="tel:8001234567"' in page, path
        assert "<title>" in page and " · KONA</title>" in page, path
    logo = client.get("/p/111/cuenta/logo/111/")
    assert logo.status_code == 200 and b"".join(logo.streaming_content).endswith(b"logo")


@pytest.mark.parametrize(("prefix", "brand"), [("", None), ("/p/111", "#c62828")])
def test_nueva_cuenta_keeps_the_colours_of_the_page_it_is_on(
    client, kona, django_capture_on_commit_callbacks, prefix, brand
):
    from .helpers import last_sms_code

    kona.brand_color = "#c62828"
    kona.save()
    ContractFactory(provider=kona, number="1001", phone="+525512345678")
    fields = {"number": "1001", "phone": "5512345678"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"{prefix}/cuenta/crear/", fields if prefix else {**fields, "provider_code": "111"}
        )
    client.post(f"{prefix}/cuenta/crear/codigo/", {"code": last_sms_code()})

    page = client.get(f"{prefix}/cuenta/crear/nueva/").text

    # Before, the bare page took the colours of the contract being claimed: Antena's blue
    # on one step, the ISP's red on the next.
    assert "Nueva cuenta" in page
    assert (f"--brand: {brand}" in page) if brand else ("--brand" not in page)


def test_the_worker_writes_argentinas_e_mails_in_usted(
    client, interatos, django_capture_on_commit_callbacks, mailoutbox
):
    interatos.locale = "es_AR"
    interatos.claim_by_email = True
    interatos.save()
    ContractFactory(provider=interatos, number="2001", email="marta@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/p/222/cuenta/crear/correo/", {"number": "2001", "email": "marta@example.com"})

    (message,) = mailoutbox
    assert "Para crear su cuenta del contrato 2001 abra este enlace" in message.body


@pytest.mark.parametrize("where", ["host", "prefix", "antena_domain"])
def test_an_isps_portal_costs_no_provider_query_once_read(client, kona, settings, where):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.ANTENA_DOMAIN = "antena.example"
    settings.ALLOWED_HOSTS = ["portal.kona.mx", "kona.antena.example", "testserver"]
    kona.portal_host = "portal.kona.mx"
    kona.save()
    path, host = {
        "host": ("/accounts/login/", "portal.kona.mx"),
        "prefix": ("/p/111/accounts/login/", "testserver"),
        "antena_domain": ("/accounts/login/", "kona.antena.example"),
    }[where]
    client.get(path, HTTP_HOST=host)

    with CaptureQueriesContext(connection) as queries:
        page = client.get(path, HTTP_HOST=host)

    assert "Bienvenido al Portal de Clientes de KONA" in page.text
    assert not [q for q in queries.captured_queries if "accounts_provider" in q["sql"]]
    kona.name = "KONA Internet"
    kona.save()  # saved: the next request reads it again
    assert "KONA Internet" in client.get(path, HTTP_HOST=host).text


def test_a_portals_map_cached_before_a_deployment_changed_the_isp_is_read_again(
    client, kona, settings
):
    """A map written by the code before a deployment that added a field to the ISP is not
    used as is: the portal would show the ISP without that field."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import PORTALS_CACHE_KEY

    settings.ALLOWED_HOSTS = ["portal.kona.mx"]
    kona.portal_host = "portal.kona.mx"
    kona.tagline = "Internet en todo el valle"
    kona.save()
    client.get("/accounts/login/", HTTP_HOST="portal.kona.mx")
    old = cache.get(PORTALS_CACHE_KEY)
    without_tagline = old["fields"].index("tagline")
    cache.set(
        PORTALS_CACHE_KEY,
        {
            **old,
            "fields": old["fields"][:without_tagline] + old["fields"][without_tagline + 1 :],
            "id": {
                pk: row[:without_tagline] + row[without_tagline + 1 :]
                for pk, row in old["id"].items()
            },
        },
    )

    with CaptureQueriesContext(connection) as queries:
        page = client.get("/accounts/login/", HTTP_HOST="portal.kona.mx").text

    assert "Internet en todo el valle" in page
    assert len([q for q in queries.captured_queries if "accounts_provider" in q["sql"]]) == 1
    assert cache.get(PORTALS_CACHE_KEY)["fields"] == old["fields"]
