from .audit import Channel, audit_context


class AuditContextMiddleware:
    """Writes made while answering a request are audited with its channel and client IP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = Channel.ADMIN if request.path.startswith("/admin/") else Channel.PORTAL
        with audit_context(channel=channel, request=request):
            return self.get_response(request)
