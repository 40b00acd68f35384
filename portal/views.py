import functools
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import NoticeChannelsForm
from billing.selectors import (
    invoice_last,
    service_changes_recent,
    service_next_plan,
)
from core.phones import phone_mask
from core.tenancy import request_contracts
from notifications.selectors import channel_preference_for
from notifications.services import channel_preferences_set
from payments.selectors import account_standing, payments_pending_for
from payments.services import promise_eligibility
from plans.selectors import promotions_active_for

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Inicio: prepaid shows días de crédito and vigencia; postpaid the last invoice and
    Balance C/C; both the contract, titular, cuenta and the running promotions."""
    _contracts, contract = request_contracts(request)
    context = {}
    if contract is not None:
        context["promotions"] = promotions_active_for(contract=contract)
        context["pending_payments"] = list(payments_pending_for(contract=contract))
        standing = None
        if contract.billing_mode == contract.BillingMode.PREPAID:
            context["credit_days"] = contract.credit_days()
        else:
            context["last_invoice"] = invoice_last(contract=contract)
            standing = account_standing(contract=contract)
            context["balance"] = standing.balance
        context["can_promise"] = (
            promise_eligibility(contract=contract, standing=standing) is not None
        )
    return render(request, "portal/home.html", context)


@login_required
def services(request: HttpRequest) -> HttpResponse:
    """Servicios: the plan in effect, the next one when a bought period of another plan
    starts later, and the last service changes (suspended, reactivated, plan changed)."""
    _contracts, contract = request_contracts(request)
    context = {}
    if contract is not None:
        next_plan = service_next_plan(contract=contract)
        if next_plan is not None:
            context["next_plan"], context["next_plan_starts_on"] = next_plan
        context["service_changes"] = service_changes_recent(contract=contract)
    return render(request, "portal/services.html", context)


UPCOMING_PAGES = {
    "support": _("Soporte"),
}


@login_required
def upcoming(request: HttpRequest, page: str) -> HttpResponse:
    return render(request, "portal/upcoming.html", {"title": UPCOMING_PAGES[page]})


@functools.cache
def _redis_for_health(url: str):
    """One client (and its connection pool) per process: a new one per probe cost a TCP
    connection each time (most of /healthz's time, bench/pages_bench.py's profile)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=2)


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and Redis, when configured) answer; 503 otherwise."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        logger.warning("healthz: database unreachable: %s", type(error).__name__)
        checks["database"] = "error"
        healthy = False
    if settings.REDIS_URL:
        import redis

        try:
            _redis_for_health(settings.REDIS_URL).ping()
            checks["redis"] = "ok"
        except redis.RedisError as error:
            logger.warning("healthz: redis unreachable: %s", type(error).__name__)
            checks["redis"] = "error"
            healthy = False
    else:
        checks["redis"] = "not configured"
    return JsonResponse(
        {"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503
    )


def _notice_channels_form(request: HttpRequest, data=None) -> NoticeChannelsForm:
    """The "Avisos" form of the signed-in subscriber, showing their stored choice (the
    model's defaults when they never chose). Correo is offered when the account or a
    contract has an address; WhatsApp when the install has a WhatsApp backend."""
    contracts, contract = request_contracts(request)
    user = request.user
    preference = channel_preference_for(user=user)
    return NoticeChannelsForm(
        data,
        initial={
            "sms": preference.sms,
            "email": preference.email,
            "whatsapp": preference.whatsapp,
        },
        masked_phone=phone_mask(str(contract.phone)) if contract is not None else "",
        email_address=(contract.email if contract is not None else "") or user.email,
        offer_email=bool(user.email or any(item.email for item in contracts)),
        offer_whatsapp=bool(settings.WHATSAPP_BACKEND),
    )


def _my_account_page(
    request: HttpRequest, *, notice_form: NoticeChannelsForm, status: int = 200
) -> HttpResponse:
    _contracts, contract = request_contracts(request)
    phone = phone_mask(str(contract.phone)) if contract is not None else ""
    context = {"masked_phone": phone, "notice_form": notice_form}
    return render(request, "accounts/my_account.html", context, status=status)


@login_required
def my_account(request: HttpRequest) -> HttpResponse:
    """Mi cuenta: the login, its contracts, Avisos (channels), Ajustes (password), Salir."""
    return _my_account_page(request, notice_form=_notice_channels_form(request))


@login_required
@require_POST
def notice_channels(request: HttpRequest) -> HttpResponse:
    """Save "Avisos": the channels offered on the page, for the signed-in account only."""
    form = _notice_channels_form(request, request.POST)
    if not form.is_valid():
        return _my_account_page(request, notice_form=form, status=400)
    # Only the channels the form offered: a hidden channel keeps its stored choice.
    channel_preferences_set(user=request.user, channels=form.cleaned_data)
    messages.success(request, _("Guardamos cómo quieres recibir tus avisos."))
    return redirect("my_account")
