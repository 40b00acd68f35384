"""Headers of every page: a Content-Security-Policy with no inline script or style (the
brand colour carries the request's nonce), a Permissions-Policy, and nothing a signed-in
person sees kept in a cache."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Payment
from tests.billing.factories import issue

pytestmark = pytest.mark.django_db

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


@pytest.fixture
def signed_in(client, juan):
    client.force_login(juan)
    return client


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        name: value.strip()
        for name, _space, value in (part.strip().partition(" ") for part in header.split(";"))
    }


def test_the_policy_allows_no_inline_script_or_style(client):
    response = client.get("/accounts/login/")

    directives = policy(response)
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    # A nonce only on pages that use it (the brand colour, once a contract is known).
    assert directives["style-src"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert directives["frame-ancestors"] == "'none'"
    assert response["Permissions-Policy"].startswith("camera=()")


def test_subscriber_pages_hold_nothing_inline_but_the_nonced_brand_colour(signed_in, juan):
    contract = juan.contracts.get()
    contract.billing_mode = "postpaid"
    contract.save()
    invoice = issue(contract)
    payment = Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference="11100000000018",
    )
    pages = [
        "/",
        "/servicios/",
        "/estado-de-cuenta/",
        "/facturas/",
        f"/facturas/{invoice.number}/",
        "/planes/",
        "/cuenta/",
        "/pagos/",
        reverse("payment_detail", args=[payment.public_id]),
    ]
    for url in pages:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        nonce = policy(response)["style-src"].split("'nonce-")[1].rstrip("'")
        assert not INLINE_HANDLER.search(html), url
        assert not INLINE_SCRIPT.search(html), url
        assert not STYLE_ATTRIBUTE.search(html), url
        assert re.findall(r"<style([^>]*)>", html) == [f' nonce="{nonce}"'], url


def test_what_a_signed_in_person_sees_is_never_cached(signed_in, juan):
    contract = juan.contracts.get()
    invoice = issue(contract)

    for url in ("/", f"/facturas/{invoice.number}/pdf/"):
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert set(response["Cache-Control"].split(", ")) >= {"private", "no-store"}, url


def test_each_page_carries_the_policy_of_the_settings_with_its_own_nonce(signed_in):
    # The header is written once per process (core.middleware) and must say what
    # django-csp would build from the settings for each request's nonce.
    from csp.utils import build_policy

    first, second = signed_in.get("/"), signed_in.get("/")

    nonces = [policy(page)["style-src"].split("'nonce-")[1].rstrip("'") for page in (first, second)]
    assert nonces[0] != nonces[1]
    for page, nonce in zip((first, second), nonces, strict=True):
        assert f'<style nonce="{nonce}">' in page.content.decode()
        assert page["Content-Security-Policy"] == build_policy(nonce=nonce)
    assert signed_in.get("/accounts/login/")["Content-Security-Policy"] == build_policy()
