from core.tenancy import request_contracts


def current_contract(request):
    """The ISP whose portal this is (`portal`, None on the bare routes), and for a
    signed-in subscriber their contracts and the current one."""
    portal = getattr(request, "portal", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"portal": portal}
    contracts, current = request_contracts(request)
    return {"portal": portal, "contracts": contracts, "contract": current}
