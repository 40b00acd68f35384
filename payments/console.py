"""The support agents' console: find a payment by reference, contract or phone, see its
status and history, and confirm a cash payment with a note (audited).

It lives under /admin/agentes/, so the admin's login, staff check and TOTP rule apply.
"""

import datetime
import re

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Provider
from core.dates import FIRST_YEAR, LAST_YEAR, year_accepted
from core.phones import phone_variants
from core.tenancy import rows_for_staff
from core.text import CONTROL_CHARACTERS

from .models import Payment
from .services import PaymentError, payment_confirm

RESULTS_LIMIT = 50


class ConfirmForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("Importe recibido"), max_digits=14, decimal_places=2, min_value=0.01
    )
    paid_at = forms.DateTimeField(
        label=gettext_lazy("Pagado el"),
        help_text=gettext_lazy("AAAA-MM-DD HH:MM, hora del proveedor"),
    )
    note = forms.CharField(
        label=gettext_lazy("Nota"),
        max_length=300,
        help_text=gettext_lazy("Folio del ticket o comprobante, y por qué."),
    )

    def clean_paid_at(self):
        paid_at = self.cleaned_data["paid_at"]
        if not year_accepted(paid_at):
            raise forms.ValidationError(
                _("La fecha debe estar entre los años %(first)s y %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR}
            )
        return paid_at


def _scoped(request: HttpRequest):
    """The payments of the agent's ISP (core.tenancy: staff's one rule)."""
    return rows_for_staff(
        Payment.objects.select_related("contract", "provider", "plan", "invoice"),
        user=request.user,
    )


def payments_search(request: HttpRequest, query: str):
    query = query.strip()
    if not query:
        return Payment.objects.none()
    # A reference read aloud is typed in groups: "1110 0000 0000 18".
    reference = re.sub(r"[\s.-]", "", query)
    condition = Q(reference=reference) | Q(contract__number=query)
    countries = set(
        rows_for_staff(Provider.objects.all(), user=request.user)
        .values_list("country", flat=True)
        .distinct()
    )
    phones = set().union(*(phone_variants(query, country=country) for country in countries))
    if phones:
        condition |= Q(contract__phone__in=phones)
    return _scoped(request).filter(condition).order_by("-created_at")[:RESULTS_LIMIT]


def _admin_context(request: HttpRequest, admin_site, **extra):
    return {**admin_site.each_context(request), **extra}


def console_search(request: HttpRequest, admin_site) -> HttpResponse:
    if not request.user.has_perm("payments.view_payment"):
        return HttpResponse(status=403)
    query = request.GET.get("q", "")
    if CONTROL_CHARACTERS.search(query):
        return TemplateResponse(
            request,
            "payments/console/search.html",
            _admin_context(
                request,
                admin_site,
                title=_("Buscar pagos"),
                query="",
                error=_("La búsqueda lleva caracteres de control; escríbela de nuevo."),
            ),
            status=400,
        )
    results = list(payments_search(request, query)) if query else []
    return TemplateResponse(
        request,
        "payments/console/search.html",
        _admin_context(request, admin_site, title=_("Buscar pagos"), query=query, results=results),
    )


def console_payment(request: HttpRequest, admin_site, pk: int) -> HttpResponse:
    if not request.user.has_perm("payments.view_payment"):
        return HttpResponse(status=403)
    payment = _scoped(request).filter(pk=pk).first()
    if payment is None:
        raise Http404
    can_confirm = request.user.has_perm("payments.confirm_payment") and payment.status in (
        Payment.Status.PENDING,
        Payment.Status.EXPIRED,
        Payment.Status.CANCELLED,
    )
    local_now = timezone.localtime(timezone.now(), payment.provider.tzinfo)
    form = ConfirmForm(
        request.POST or None,
        initial={"amount": payment.amount, "paid_at": local_now.strftime("%Y-%m-%d %H:%M")},
    )
    status = 200
    if request.method == "POST":
        if not can_confirm:
            return HttpResponse(status=403)
        # The time typed is the ISP's, whatever the server's zone.
        with timezone.override(payment.provider.tzinfo):
            valid = form.is_valid()
        if valid:
            paid_at = form.cleaned_data["paid_at"]
            if paid_at > timezone.now() + datetime.timedelta(minutes=5):
                form.add_error("paid_at", _("La fecha de pago no puede estar en el futuro."))
            else:
                try:
                    result = payment_confirm(
                        payment_id=payment.pk,
                        amount=form.cleaned_data["amount"],
                        currency=payment.currency,
                        paid_at=paid_at,
                        source="agent",
                        actor=request.user,
                        note=form.cleaned_data["note"],
                    )
                except PaymentError as error:
                    form.add_error(None, str(error))
                else:
                    if result.outcome == "held":
                        messages.warning(
                            request, _("El importe no coincide: el pago quedó en revisión.")
                        )
                    else:
                        messages.success(request, _("Pago confirmado y acreditado."))
                    return redirect("payments_console_payment", pk=payment.pk)
        status = 400
    context = _admin_context(
        request,
        admin_site,
        title=str(payment),
        payment=payment,
        form=form,
        can_confirm=can_confirm,
        events=list(payment.events.select_related("actor")),
    )
    return TemplateResponse(request, "payments/console/payment.html", context, status=status)
