"""Two people finishing the claim of one contract at the same moment: one wins."""

import threading

import pytest
from django.db import connection

from accounts.models import Contract, User
from accounts.services import ClaimError, contract_claim
from tests.factories import ContractFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_concurrent_claims_of_one_contract_give_it_to_exactly_one_login():
    contract = ContractFactory()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def claim(name: str) -> None:
        barrier.wait()
        try:
            contract_claim(contract_id=contract.pk, name=name, password="una-clave-larga-2026")
            outcomes.append("ok")
        except ClaimError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(f"persona{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["ok"] + ["refused"] * 7
    contract = Contract.objects.get(pk=contract.pk)
    assert User.objects.filter(provider=contract.provider).count() == 1
    assert contract.user.username.startswith("persona")
