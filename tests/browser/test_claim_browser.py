"""Crear una cuenta in a real browser: Bienvenida → Código/Contrato/Número → SMS code →
Nueva cuenta → GUARDAR → Bienvenida → INGRESAR → Inicio with días de crédito."""

import datetime
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import Contract
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, ZoneFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "Kona-navegador-2026"
SCREENSHOT = Path("/tmp/inicio.png")
CODE_LINE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def sms_dir(settings, tmp_path):
    directory = tmp_path / "sms"
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = str(directory)
    return directory


@pytest.fixture
def contract():
    kona = ProviderFactory(
        code="111",
        name="KONA",
        handle_domain="kona",
        country="MX",
        currency="MXN",
        locale="es_MX",
        time_zone="America/Mexico_City",
    )
    zone = ZoneFactory(provider=kona, name="Centro")
    plan = PlanFactory(provider=kona, name="Plan Básico")
    plan.zones.add(zone)
    return ContractFactory(
        provider=kona,
        number="1001",
        holder_name="Rosa Martínez Ruiz",
        installation_address="Av. Juárez 120, Centro, CDMX",
        phone="+525512345678",
        zone=zone,
        plan=plan,
        paid_until=kona.today() + datetime.timedelta(days=12),
    )


def _sms_code(directory: Path, *, timeout: float = 5.0) -> str:
    """The 6-digit code in the one message the FileBackend wrote (after the request's commit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(directory.glob("*.txt")) if directory.exists() else []
        if files:
            assert len(files) == 1, [f.name for f in files]
            text = files[0].read_text(encoding="utf-8")
            header, _, body = text.partition("\n\n")
            assert header == "To: +525512345678", text
            match = CODE_LINE.search(body)
            assert match, text
            return match.group(1)
        time.sleep(0.05)
    pytest.fail(f"no SMS file appeared in {directory}")


def test_subscriber_claims_contract_and_sees_credit_days(phone_page, contract, sms_dir):
    page = phone_page

    # Bienvenida → Crear una cuenta
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
    page.get_by_role("link", name="Crear una cuenta").click()
    expect(page.get_by_role("heading", name="Crear una cuenta")).to_be_visible()

    # Código + Contrato + Número (typed the way people write it)
    page.get_by_label("Código", exact=True).fill("111")
    page.get_by_label("Contrato", exact=True).fill("1001")
    page.get_by_label("Número", exact=True).fill("55 1234 5678")
    page.get_by_role("button", name="CONTINUAR").click()

    # The 6-digit code from the SMS file
    expect(page.get_by_role("heading", name="Código de verificación")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Si los datos coinciden")
    code = _sms_code(sms_dir)
    page.get_by_label("Código", exact=True).fill(code)
    page.get_by_role("button", name="VERIFICAR").click()

    # Nueva cuenta: titular and dirección, then Cuenta + Contraseña
    expect(page.get_by_role("heading", name="Nueva cuenta")).to_be_visible()
    expect(page.get_by_text("Rosa Martínez Ruiz")).to_be_visible()
    expect(page.get_by_text("Av. Juárez 120, Centro, CDMX")).to_be_visible()
    page.get_by_label("Cuenta", exact=True).fill("juan")
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_label("Confirmar contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="GUARDAR").click()

    # Back on Bienvenida with the success message
    expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
    expect(page.locator(".message.success")).to_contain_text("Tu cuenta juan@kona está lista")
    contract.refresh_from_db()
    assert contract.user is not None
    assert contract.user.username == "juan@kona"

    # INGRESAR as juan@kona
    page.get_by_label("Cuenta", exact=True).fill("juan@kona")
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="INGRESAR").click()

    # Inicio: 12 días de crédito restantes and the contract number
    credit = page.get_by_test_id("credit-days")
    expect(credit).to_be_visible()
    expect(credit.locator("strong")).to_have_text("12")
    expect(credit).to_contain_text("días de crédito restantes")
    expect(page.get_by_test_id("contract-number")).to_have_text("1001")
    assert Contract.objects.get(pk=contract.pk).credit_days() == 12

    # How Inicio looks on a phone (390×844): the page must not scroll sideways.
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"Inicio scrolls sideways on a phone: {widths}"
