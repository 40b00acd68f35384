from django.utils.cache import patch_cache_control

from .audit import Channel, audit_context


class AuditContextMiddleware:
    """Writes made while answering a request are audited with its channel and client IP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = Channel.ADMIN if request.path.startswith("/admin/") else Channel.PORTAL
        with audit_context(channel=channel, request=request):
            return self.get_response(request)


class PrivatePagesMiddleware:
    """What a signed-in person sees (pages, invoice PDFs, vouchers) is never stored by a
    browser or a proxy: `Cache-Control: private, no-store`. And no page may use the
    camera, microphone, location or payment APIs (`Permissions-Policy`)."""

    PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
