"""Avisos in Mi cuenta: the subscriber picks the channels of notices and reminders (SMS,
correo when there is one, WhatsApp when the install offers it), and what is sent follows
the choice. Verification codes are not notices: they always come by SMS."""

import re

import pytest

from notifications.models import Channel, ChannelPreference, Notification
from notifications.services import Message, notifications_send
from tests.factories import ContractFactory, UserFactory

pytestmark = pytest.mark.django_db

WHATSAPP = "notifications.backends.WhatsAppLocmemBackend"


def checkbox(page: str, name: str) -> str | None:
    """The <input> tag of the checkbox `name` on the page, or None when it is not there."""
    found = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', page)
    return found.group(0) if found else None


def is_checked(page: str, name: str) -> bool:
    tag = checkbox(page, name)
    assert tag is not None, f"no {name} checkbox"
    return " checked" in tag


def sent_channels(contract) -> set[str]:
    return set(Notification.objects.filter(contract=contract).values_list("channel", flat=True))


@pytest.fixture
def signed_in(client, juan):
    client.force_login(juan)
    return client


@pytest.fixture
def with_email(juan):
    contract = juan.contracts.get()
    contract.email = "juan@example.com"
    contract.save(update_fields=["email"])
    return contract


def test_the_card_shows_the_defaults_when_nothing_was_chosen(signed_in, with_email):
    page = signed_in.get("/cuenta/").text

    assert "Avisos" in page
    assert is_checked(page, "sms")
    assert is_checked(page, "email")
    assert "A juan@example.com." in page
    assert "Los códigos de verificación siempre te llegan por SMS, elijas lo que elijas." in page


def test_the_card_shows_the_stored_choice(signed_in, juan, with_email):
    ChannelPreference.objects.create(user=juan, sms=False, email=True)

    page = signed_in.get("/cuenta/").text

    assert not is_checked(page, "sms")
    assert is_checked(page, "email")


def test_the_sms_line_names_the_masked_number_of_the_contract(signed_in, juan):
    page = signed_in.get("/cuenta/").text

    assert "Al número registrado de tu contrato," in page
    assert "+525512345678" not in page


def test_turning_sms_off_stops_sms_notices_but_email_still_goes(signed_in, juan, with_email):
    response = signed_in.post("/cuenta/avisos/", {"email": "on"}, follow=True)

    assert response.redirect_chain == [("/cuenta/", 302)]
    assert "Guardamos cómo quieres recibir tus avisos." in response.text
    preference = ChannelPreference.objects.get(user=juan)
    assert (preference.sms, preference.email, preference.whatsapp) == (False, True, False)
    assert not is_checked(response.text, "sms")

    notifications_send(
        messages=[Message(contract_id=with_email.pk, kind="payment_received", event="x")]
    )

    assert sent_channels(with_email) == {Channel.EMAIL}
    assert Notification.objects.get(contract=with_email).to == "juan@example.com"


def test_the_account_email_counts_as_an_address(signed_in, juan):
    juan.email = "juan@correo.mx"
    juan.save(update_fields=["email"])

    page = signed_in.get("/cuenta/").text

    assert is_checked(page, "email")
    assert "A juan@correo.mx." in page


def test_without_an_email_correo_is_not_offered_and_says_how_to_get_it(signed_in, juan):
    page = signed_in.get("/cuenta/").text

    assert checkbox(page, "email") is None
    assert "Para recibir avisos por correo, pide a tu proveedor que agregue un correo" in page


def test_without_an_email_saving_keeps_the_stored_email_choice(signed_in, juan):
    ChannelPreference.objects.create(user=juan, sms=True, email=False)

    response = signed_in.post("/cuenta/avisos/", {"sms": "on", "email": "on"})

    assert response.status_code == 302
    preference = ChannelPreference.objects.get(user=juan)
    assert (preference.sms, preference.email) == (True, False)


def test_nothing_sent_on_a_channel_turned_off_even_sms(signed_in, juan):
    signed_in.post("/cuenta/avisos/", {})
    contract = juan.contracts.get()

    notifications_send(
        messages=[Message(contract_id=contract.pk, kind="payment_received", event="x")]
    )

    assert sent_channels(contract) == set()


def test_another_subscribers_preference_is_untouched(signed_in, juan, kona):
    other = UserFactory(provider=kona, username="ana@kona")
    ContractFactory(provider=kona, user=other, number="2001")
    ChannelPreference.objects.create(user=other, sms=True, email=True)

    signed_in.post("/cuenta/avisos/", {"user": other.pk, "user_id": other.pk})

    other_preference = ChannelPreference.objects.get(user=other)
    assert (other_preference.sms, other_preference.email) == (True, True)
    assert ChannelPreference.objects.get(user=juan).sms is False
    assert ChannelPreference.objects.count() == 2


def test_anonymous_post_goes_to_login_and_changes_nothing(client, juan):
    response = client.post("/cuenta/avisos/", {"email": "on"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not ChannelPreference.objects.exists()


def test_the_form_needs_the_csrf_token(juan):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(juan)

    response = client.post("/cuenta/avisos/", {"email": "on"})

    assert response.status_code == 403
    assert not ChannelPreference.objects.exists()


def test_a_get_is_refused(signed_in):
    assert signed_in.get("/cuenta/avisos/").status_code == 405


@pytest.mark.parametrize("forged", ["maybe", "yes please", "2", "<script>"])
def test_a_forged_value_is_refused_on_its_field_and_changes_nothing(signed_in, juan, forged):
    ChannelPreference.objects.create(user=juan, sms=True, email=True)

    response = signed_in.post("/cuenta/avisos/", {"sms": forged})

    assert response.status_code == 400
    assert "Marca la casilla o déjala vacía." in response.text
    assert "<script>" not in response.text
    preference = ChannelPreference.objects.get(user=juan)
    assert (preference.sms, preference.email) == (True, True)


@pytest.mark.parametrize(("sent", "stored"), [("on", True), ("true", True), ("0", False)])
def test_checkbox_spellings_are_read(signed_in, juan, sent, stored):
    signed_in.post("/cuenta/avisos/", {"sms": sent})

    assert ChannelPreference.objects.get(user=juan).sms is stored


def test_whatsapp_is_not_offered_without_a_backend(signed_in, juan, settings):
    settings.WHATSAPP_BACKEND = ""

    page = signed_in.get("/cuenta/").text
    signed_in.post("/cuenta/avisos/", {"sms": "on", "whatsapp": "on"})

    assert checkbox(page, "whatsapp") is None
    assert "WhatsApp" not in page
    assert ChannelPreference.objects.get(user=juan).whatsapp is False


def test_whatsapp_is_offered_and_saved_with_a_backend(signed_in, juan, settings):
    settings.WHATSAPP_BACKEND = WHATSAPP

    page = signed_in.get("/cuenta/").text
    assert not is_checked(page, "whatsapp")

    signed_in.post("/cuenta/avisos/", {"whatsapp": "on"})
    contract = juan.contracts.get()
    notifications_send(
        messages=[Message(contract_id=contract.pk, kind="payment_received", event="x")]
    )

    assert ChannelPreference.objects.get(user=juan).whatsapp is True
    assert is_checked(signed_in.get("/cuenta/").text, "whatsapp")
    assert sent_channels(contract) == {Channel.WHATSAPP}


def test_a_whatsapp_choice_survives_while_the_install_stops_offering_it(signed_in, juan, settings):
    settings.WHATSAPP_BACKEND = ""
    ChannelPreference.objects.create(user=juan, whatsapp=True)

    signed_in.post("/cuenta/avisos/", {"sms": "on"})

    assert ChannelPreference.objects.get(user=juan).whatsapp is True


def test_the_card_has_no_inline_style_or_script(signed_in, with_email, settings):
    settings.WHATSAPP_BACKEND = WHATSAPP
    page = signed_in.get("/cuenta/").text
    card = page[page.index('id="avisos"') :]

    assert " style=" not in card
    assert "<script" not in card
    assert re.search(r"<input[^>]*\son[a-z]+=", card) is None
