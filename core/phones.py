import phonenumbers
from phonenumber_field.widgets import RegionalPhoneNumberWidget


def phone_normalize(raw: str, *, country: str) -> str | None:
    """E.164 for a number typed with spaces, dashes or a +52/+54 prefix; None when invalid."""
    try:
        number = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_variants(raw: str, *, country: str) -> set[str]:
    """Every E.164 spelling the same line may be stored under.

    Argentine mobiles are written with or without the "9" after +54 (and the local "15"
    that phonenumbers already drops): a subscriber who types either form is the same line.
    """
    normalized = phone_normalize(raw, country=country)
    if normalized is None:
        return set()
    variants = {normalized}
    if normalized.startswith("+549"):
        variants.add("+54" + normalized[4:])
    elif normalized.startswith("+54"):
        variants.add("+549" + normalized[3:])
    return variants


def phone_mask(e164: str) -> str:
    """What a page may show of a phone: its last 4 digits."""
    return "•••• " + e164[-4:]


def phone_field_in_region(field, *, country: str | None) -> None:
    """A form's phone field (django-phonenumber-field) that reads and shows numbers as the
    ISP's country writes them: "55 1234 5678" in México, "351 15-123-4567" in Argentina."""
    if country:
        field.region = country
        # The admin gives every text field its plain text input: the number would show as
        # stored (E.164) instead of as the ISP writes it.
        field.widget = RegionalPhoneNumberWidget(region=country, attrs=field.widget.attrs)
