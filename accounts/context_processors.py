from .models import Contract
from .selectors import contracts_for

SESSION_CONTRACT_KEY = "current_contract_id"


def request_contracts(request) -> tuple[list[Contract], Contract | None]:
    """The signed-in subscriber's contracts and the one picked in the session (else the first).

    Computed once per request: the page and the navigation share one query.
    """
    if not hasattr(request, "_antena_contracts"):
        user = request.user
        contracts = list(contracts_for(user=user)) if user.is_authenticated else []
        chosen = request.session.get(SESSION_CONTRACT_KEY)
        current = next(
            (c for c in contracts if c.pk == chosen), contracts[0] if contracts else None
        )
        request._antena_contracts = (contracts, current)
    return request._antena_contracts


def current_contract(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    contracts, current = request_contracts(request)
    return {"contracts": contracts, "contract": current}
