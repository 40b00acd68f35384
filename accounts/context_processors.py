from core.tenancy import request_contracts


def current_contract(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    contracts, current = request_contracts(request)
    return {"contracts": contracts, "contract": current}
