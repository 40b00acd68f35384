"""Gateway credentials at rest: several keys, the first encrypts; rotation re-encrypts;
a value no key opens is an error, never empty credentials."""

import base64
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from payments.crypto import CredentialsUnreadable
from payments.models import GatewayAccount

pytestmark = pytest.mark.django_db

STRIPE = {"secret_key": "sk_test_rotacion", "webhook_secret": "whsec_rotacion"}


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def account(kona, settings):
    settings.FIELD_ENCRYPTION_KEY = [new_key()]
    account = GatewayAccount(provider=kona, gateway="stripe")
    account.credentials = STRIPE
    account.save()
    return account


def stored(account) -> GatewayAccount:
    return GatewayAccount.objects.get(pk=account.pk)


def test_a_new_key_first_still_reads_what_the_old_one_wrote_and_rotation_moves_it(
    account, settings
):
    old = settings.FIELD_ENCRYPTION_KEY[0]
    settings.FIELD_ENCRYPTION_KEY = [new_key(), old]
    assert stored(account).credentials == STRIPE

    call_command("credentials_reencrypt")

    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY[:1]  # the old key dropped
    assert stored(account).credentials == STRIPE


def test_credentials_no_key_opens_are_an_error_not_empty(account, settings):
    settings.FIELD_ENCRYPTION_KEY = [new_key()]

    with pytest.raises(CredentialsUnreadable):
        stored(account).credentials  # noqa: B018

    with pytest.raises(CommandError, match="ninguna clave abre"):
        call_command("credentials_reencrypt")


def test_a_webhook_for_unreadable_credentials_asks_the_gateway_to_retry(client, account, settings):
    settings.FIELD_ENCRYPTION_KEY = [new_key()]

    response = client.post("/webhooks/stripe/111/", data=b"{}", content_type="application/json")

    assert response.status_code == 503


@pytest.mark.parametrize("value", [None, ""])
def test_production_requires_the_keys(monkeypatch, value):
    import importlib
    import sys

    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    if value is None:
        monkeypatch.delenv("FIELD_ENCRYPTION_KEY", raising=False)
    else:
        monkeypatch.setenv("FIELD_ENCRYPTION_KEY", value)
    sys.modules.pop("portal.settings.production", None)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        importlib.import_module("portal.settings.production")
    sys.modules.pop("portal.settings.production", None)
