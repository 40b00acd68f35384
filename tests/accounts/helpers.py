import re

from accounts import sms

CODE_PATTERN = re.compile(r"\b(\d{6})\b")


def last_sms_code() -> str:
    assert sms.outbox, "no SMS was sent"
    match = CODE_PATTERN.search(sms.outbox[-1].body)
    assert match, sms.outbox[-1].body
    return match.group(1)


def claim_start(client, *, code="111", number="1001", phone="5512345678"):
    return client.post("/cuenta/crear/", {"provider_code": code, "number": number, "phone": phone})


def claim_code(client, code):
    return client.post("/cuenta/crear/codigo/", {"code": code})


def claim_account(client, *, name="juan", password="una-clave-larga-2026"):
    return client.post(
        "/cuenta/crear/nueva/", {"name": name, "password1": password, "password2": password}
    )
