"""Anything guessable is rate limited, backed by the cache, with a clear 429."""

import pytest

from accounts import sms
from tests.factories import PASSWORD, ContractFactory, ProviderFactory, UserFactory

from .helpers import claim_code, claim_start

pytestmark = pytest.mark.django_db(transaction=True)

TOO_MANY = "Demasiados intentos"


@pytest.fixture
def contract():
    kona = ProviderFactory(code="111", handle_domain="kona")
    return ContractFactory(provider=kona, number="1001", phone="+525512345678")


def login(client, account, password):
    return client.post("/accounts/login/", {"login": account, "password": password})


def test_failed_logins_per_account_end_in_429(client, contract):
    UserFactory(provider=contract.provider, username="juan@kona")
    for _ in range(5):
        assert login(client, "juan@kona", "mala-clave-0000").status_code == 200
    blocked = login(client, "juan@kona", PASSWORD)  # even the right password now waits
    assert blocked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_failed_logins_per_ip_end_in_429_across_accounts(client, contract):
    for attempt in range(10):
        assert login(client, f"cuenta{attempt}@kona", "mala-clave-0000").status_code == 200
    assert login(client, "otra@kona", "mala-clave-0000").status_code == 429


def test_a_successful_login_does_not_reset_the_failure_count_for_an_attacker(client, contract):
    UserFactory(provider=contract.provider, username="juan@kona")
    for _ in range(4):
        login(client, "juan@kona", "mala-clave-0000")
    assert login(client, "juan@kona", PASSWORD).status_code == 302


def test_admin_login_is_rate_limited_the_same_way(client, settings):
    from accounts.models import User

    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    assert client.get("/admin/login/")["Location"].startswith("/accounts/login/")
    for _ in range(5):
        login(client, "admin", "mala-clave-0000")
    assert login(client, "admin", PASSWORD).status_code == 429


def test_claim_attempts_per_contract_end_in_429_whatever_the_phone(client, contract):
    for attempt in range(5):
        response = claim_start(client, phone=f"55000000{attempt:02d}")
        assert response.status_code == 302
    blocked = claim_start(client)
    assert blocked.status_code == 429
    assert TOO_MANY in blocked.text
    assert sms.outbox == []


def test_claim_attempts_per_ip_end_in_429(client, contract, settings):
    for number in range(20):
        assert claim_start(client, number=str(5000 + number)).status_code == 302
    assert claim_start(client, number="9999").status_code == 429


def test_sms_per_contract_stop_without_telling_a_stranger(contract):
    from django.test import Client

    for _ in range(3):
        claim_start(Client())
    # A fourth request for the same contract, from anywhere, sends nothing more, and the
    # answer is the one anybody gets (a 429 would confirm that contract and phone match).
    response = claim_start(Client(REMOTE_ADDR="10.9.9.9"))
    assert (response.status_code, response["Location"]) == (302, "/cuenta/crear/codigo/")
    assert len(sms.outbox) == 3


def test_password_reset_sms_stop_without_telling_a_stranger(client, contract):
    from tests.factories import UserFactory as Users

    Users(provider=contract.provider, username="juan@kona")
    answers = [
        client.post("/cuenta/recuperar/", {"login": "juan@kona"}).status_code for _ in range(5)
    ]
    assert answers == [302] * 5
    assert len(sms.outbox) == 3


def test_code_guessing_per_ip_ends_in_429(client, contract):
    claim_start(client)
    for _ in range(30):
        claim_code(client, "000000")
    assert claim_code(client, "000000").status_code == 429


def test_password_reset_requests_end_in_429(client, contract):
    for _ in range(5):
        assert client.post("/cuenta/recuperar/", {"login": "juan@kona"}).status_code == 302
    assert client.post("/cuenta/recuperar/", {"login": "juan@kona"}).status_code == 429


def test_behind_no_trusted_proxy_x_forwarded_for_is_ignored(client, contract, settings):
    """Anyone can write X-Forwarded-For: with no proxy trusted, changing it escapes nothing."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    for attempt in range(10):
        forwarded = {"HTTP_X_FORWARDED_FOR": f"198.51.100.{attempt}"}
        response = client.post(
            "/accounts/login/",
            {"login": f"cuenta{attempt}@kona", "password": "mala-clave-0000"},
            **forwarded,
        )
        assert response.status_code == 200
    blocked = client.post(
        "/accounts/login/",
        {"login": "otra@kona", "password": "mala-clave-0000"},
        HTTP_X_FORWARDED_FOR="203.0.113.77",
    )
    assert blocked.status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(client, contract, settings):
    """Every request comes from the proxy's address; the client is the one it adds."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}

    def attempt(client_address, account):
        return client.post(
            "/accounts/login/",
            {"login": account, "password": "mala-clave-0000"},
            HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}",  # the first one is made up
            **proxy,
        ).status_code

    assert [attempt("198.51.100.1", f"cuenta{n}@kona") for n in range(10)] == [200] * 10
    assert attempt("198.51.100.1", "otra@kona") == 429
    # Another subscriber behind the same proxy still signs in (well, fails on its own).
    assert attempt("198.51.100.2", "otra@kona") == 200
