from core.tenancy import request_contracts


def current_contract(request):
    """`portal`: the ISP whose portal this is (None on the bare routes); `isp`: whose
    name, colour and logo the page wears (the portal's, else the signed-in subscriber's
    current contract's); for a signed-in subscriber their contracts and the current one.
    """
    portal = getattr(request, "portal", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {"portal": portal, "isp": portal}
    contracts, current = request_contracts(request)
    isp = portal or (current.provider if current else None)
    return {"portal": portal, "isp": isp, "contracts": contracts, "contract": current}
