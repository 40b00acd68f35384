"""Codes and links leave from the worker, after the answer: whether the data match or
not, the answer is the same in status and body and costs the same queries, and nothing is
sent inside the request."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import sms
from accounts.selectors import provider_for_host
from core.models import OutboxMessage
from core.outbox import outbox_run
from tests.factories import ContractFactory, UserFactory

from .helpers import CODE_PATTERN, claim_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def contract(kona):
    return ContractFactory(provider=kona, number="1001", phone="+525512345678")


@pytest.fixture(autouse=True)
def portal_hosts_cached(kona):
    """The first request of all reads the ISPs' portal hosts, once; those compared here
    come after it."""
    provider_for_host(host="testserver")


def _statement(sql: str) -> str:
    """What a statement does and to which table (savepoint names differ every time)."""
    verb = sql.split(" ", 1)[0]
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', sql)
    return f"{verb} {table.group(1)}" if table else verb


def answered(client, post, django_capture_on_commit_callbacks):
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = post(client)
    client.cookies.clear()
    statements = [_statement(query["sql"]) for query in queries.captured_queries]
    return response.status_code, response.get("Location"), statements


def test_a_claim_answers_alike_matching_or_not_and_texts_from_the_worker(
    client, contract, outbox_worker_elsewhere, django_capture_on_commit_callbacks
):
    # when
    matching = answered(client, claim_start, django_capture_on_commit_callbacks)
    sent_inside = list(sms.outbox)
    wrong_phone = answered(
        client, lambda c: claim_start(c, phone="5500000000"), django_capture_on_commit_callbacks
    )
    unknown = answered(
        client, lambda c: claim_start(c, number="9999"), django_capture_on_commit_callbacks
    )

    # then: the same answer and the same statements, and nothing sent in the request
    assert matching == wrong_phone == unknown
    assert matching[:2] == (302, "/cuenta/crear/codigo/")
    assert sent_inside == [] and sms.outbox == []
    assert outbox_worker_elsewhere.call_count == 3
    # The worker sends the one that matched, and the decoys send nothing.
    for message in OutboxMessage.objects.order_by("pk"):
        outbox_run(message_id=message.pk)
    (text,) = sms.outbox
    assert text.to == "+525512345678" and CODE_PATTERN.search(text.body)
    assert not OutboxMessage.objects.exists()


def test_a_password_reset_answers_alike_for_any_account_and_sends_from_the_worker(
    client, contract, outbox_worker_elsewhere, django_capture_on_commit_callbacks, mailoutbox
):
    UserFactory(provider=contract.provider, username="rosa@kona", email="rosa@example.com")
    contract.user = UserFactory._meta.model.objects.get(username="rosa@kona")
    contract.save()

    def reset(login):
        return lambda c: c.post("/cuenta/recuperar/", {"login": login})

    existing = answered(client, reset("rosa@kona"), django_capture_on_commit_callbacks)
    unknown = answered(client, reset("nadie@kona"), django_capture_on_commit_callbacks)

    assert existing == unknown
    assert existing[:2] == (302, "/cuenta/recuperar/codigo/")
    assert sms.outbox == [] and mailoutbox == []
    for message in OutboxMessage.objects.order_by("pk"):
        outbox_run(message_id=message.pk)
    assert [text.to for text in sms.outbox] == ["+525512345678"]
    assert [mail.to for mail in mailoutbox] == [["rosa@example.com"]]


def test_a_decoys_code_leads_nowhere_even_if_typed(client, contract, monkeypatch):
    monkeypatch.setattr("accounts.services.secrets.randbelow", lambda _limit: 123456)
    claim_start(client, number="9999")  # no such contract: a decoy with code 123456

    response = client.post("/cuenta/crear/codigo/", {"code": "123456"})

    assert response["Location"] == "/cuenta/crear/codigo/"
    assert client.get("/cuenta/crear/nueva/")["Location"] == "/cuenta/crear/"


def test_an_sms_to_several_phones_that_fails_half_way_is_not_sent_again_to_the_first(
    client, contract, outbox_worker_elsewhere, monkeypatch
):
    from accounts.services import sms_deliver
    from accounts.sms import SmsDeliveryError
    from core.outbox import outbox_enqueue

    refused = {"+525500000002"}
    real_send = sms.LocmemBackend.send

    def send(self, message):
        if message.to in refused:
            raise SmsDeliveryError("refused")
        real_send(self, message)

    monkeypatch.setattr(sms.LocmemBackend, "send", send)
    message = outbox_enqueue(
        task=sms_deliver, kwargs={"phones": ["+525500000001", "+525500000002"], "body": "hola"}
    )

    for _ in range(3):
        with pytest.raises(SmsDeliveryError):
            outbox_run(message_id=message.pk)
    refused.clear()
    outbox_run(message_id=message.pk)

    assert [text.to for text in sms.outbox] == ["+525500000001", "+525500000002"]
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize("who", ["two logins with one e-mail", "staff with its own phone"])
def test_a_reset_for_any_kind_of_login_costs_what_one_for_nobody_costs(
    client, contract, outbox_worker_elsewhere, django_capture_on_commit_callbacks, who
):
    from tests.factories import ProviderFactory

    if who == "two logins with one e-mail":
        other = ProviderFactory(code="222", handle_domain="interatos")
        UserFactory(provider=contract.provider, username="ana@kona", email="ana@example.com")
        UserFactory(provider=other, username="ana@interatos", email="ana@example.com")
        login = "ana@example.com"
    else:
        UserFactory(provider=None, username="soporte", phone="+525511112222", is_staff=True)
        login = "soporte"
    provider_for_host(host="testserver")  # a provider saved: its hosts are read again once

    def reset(value):
        return lambda c: c.post("/cuenta/recuperar/", {"login": value})

    assert answered(client, reset(login), django_capture_on_commit_callbacks) == answered(
        client, reset("nadie@kona"), django_capture_on_commit_callbacks
    )
