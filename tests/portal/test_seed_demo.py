import pytest
from django.core.management import call_command

from accounts.models import Contract, Provider, User
from plans.models import Plan, Zone

pytestmark = pytest.mark.django_db


def _counts():
    return tuple(model.objects.count() for model in (Provider, Zone, Plan, Contract, User))


def test_seed_demo_loads_both_isps_and_prints_what_to_type(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    kona = Provider.objects.get(code="111")
    interatos = Provider.objects.get(handle_domain="interatos")
    assert (kona.handle_domain, kona.currency, kona.locale, kona.time_zone) == (
        "kona",
        "MXN",
        "es_MX",
        "America/Mexico_City",
    )
    assert (interatos.currency, interatos.locale, interatos.require_special_character) == (
        "ARS",
        "es_AR",
        True,
    )
    assert sorted(kona.plans.values_list("name", "download_mbps")) == [
        ("Plan Avanzado", 20),
        ("Plan Básico", 10),
    ]
    six = interatos.plans.get()
    assert (six.name, str(six.price), six.billing_mode) == ("PLAN 6 MEGAS", "2590.00", "postpaid")
    assert Contract.objects.filter(number="1001").count() == 2
    assert "Cuenta juan@kona / Contraseña Kona-demo-2026" in out
    assert "Crear una cuenta: Código 111 · Contrato 1001 · Número 5512345678" in out


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo")
    before = _counts()
    call_command("seed_demo")
    assert _counts() == before


def test_the_printed_demo_logins_work(client):
    call_command("seed_demo")
    for account, password in (
        ("juan@kona", "Kona-demo-2026"),
        ("laura@example.com", "Interatos-demo.2026"),
    ):
        response = client.post("/accounts/login/", {"login": account, "password": password})
        assert response["Location"] == "/", account
        client.post("/accounts/logout/")
