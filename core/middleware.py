from csp.constants import HEADER
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
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


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the header written once per process.

    django-csp builds the header from the settings on every response (the policy and the
    report-only one: 90 µs of every request, docs/performance.md). The settings do not
    change while a process runs, so the policy is built here once, split where a page's
    nonce goes; a response joins its request's nonce in, if the page used one. A response
    carrying a policy of its own (django-csp's decorators), and a deployment with a
    report-only policy or excluded paths, take django-csp's own path.
    """

    _NONCE_MARK = "\x00"

    def __init__(self, get_response):
        super().__init__(get_response)
        config = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        simple = not getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None) and not (
            config.get("EXCLUDE_URL_PREFIXES")
        )
        self._without_nonce = build_policy() if simple else None
        self._around_nonce = build_policy(nonce=self._NONCE_MARK).split(self._NONCE_MARK)

    def process_response(self, request, response):
        if self._without_nonce is None or any(name.startswith("_csp_") for name in vars(response)):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (404, 500):
            return response  # Django's debug pages, as django-csp leaves them
        nonce = getattr(request, "_csp_nonce", None)
        if self._without_nonce and HEADER not in response:
            response[HEADER] = nonce.join(self._around_nonce) if nonce else self._without_nonce
        if nonce is None:
            # As django-csp: a nonce asked for after the header is written is an error.
            request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
