"""Claim ("Crear una cuenta"), password reset by SMS code, contract switching, Mi cuenta.

Views parse input, apply rate limits, call one service or selector, and render.
"""

import logging
from datetime import datetime, timedelta

from allauth.account.views import LoginView as AllauthLoginView
from allauth.core.ratelimit import consume, consume_or_429
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.tenancy import SESSION_CONTRACT_KEY, request_contracts

from .forms import (
    ClaimByEmailForm,
    ClaimStartForm,
    CodeForm,
    ContractNamedForm,
    NewAccountForm,
    NewPasswordForm,
    PasswordResetRequestForm,
)
from .models import User, VerificationCode
from .selectors import (
    contract_claimable_get,
    contract_find_claimable,
    contract_find_claimable_by_email,
    provider_active_get,
    provider_for_code,
    provider_only_active,
    users_for_login,
)
from .services import (
    ClaimError,
    claim_link_contract,
    claim_link_start,
    contract_attach,
    contract_claim,
    contract_claim_start,
    password_reset_start,
    user_password_set,
    verification_code_verify,
    verification_token_new,
)

logger = logging.getLogger(__name__)

CLAIM_TOKEN = "claim_token"
CLAIM_VERIFIED = "claim_verified"
# The ISP the code was asked of: its support phone is the way out if no SMS comes.
CLAIM_PROVIDER = "claim_provider"
RESET_TOKEN = "reset_token"
RESET_VERIFIED = "reset_verified"
# How long a verified code lets the subscriber finish the next step.
VERIFIED_STEP_TTL = timedelta(minutes=15)


class LoginView(AllauthLoginView):
    """allauth's login, answering 429 (not 200) when failed logins are rate limited."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if any(
            error.code == "too_many_login_attempts"
            for error in form.errors.as_data().get("__all__", [])
        ):
            response.status_code = 429
        return response


def sms_allowed(request: HttpRequest, *, key: str, dry_run: bool = False) -> bool:
    """Whether one more SMS may go to this contract or account (RATE_LIMIT_SMS); with
    `dry_run`, asked without counting (for data that matched nothing)."""
    if consume(request, action="sms", key=key, dry_run=dry_run):
        return True
    logger.warning("SMS limit reached for %s", key.split(":")[0])
    return False


def _same_answer_sent(request: HttpRequest) -> None:
    messages.info(
        request, _("Si los datos coinciden, enviamos un código por SMS al número registrado.")
    )


def _wrong_code(request: HttpRequest) -> None:
    messages.error(request, _("El código no es válido o ya venció. Revisa el SMS o pide otro."))


def _verified_store(request: HttpRequest, key: str, object_id: int) -> None:
    request.session[key] = {"id": object_id, "at": timezone.now().isoformat()}


def _verified_load(request: HttpRequest, key: str) -> int | None:
    value = request.session.get(key)
    if not value:
        return None
    if datetime.fromisoformat(value["at"]) + VERIFIED_STEP_TTL < timezone.now():
        request.session.pop(key, None)
        return None
    return value["id"]


def _contract_named(
    request: HttpRequest, form_class: type[ContractNamedForm], template: str
) -> tuple[ContractNamedForm | None, HttpResponse | None]:
    """The claim forms' first half: the form (the ISP's code filled in from `?codigo=`, not
    asked on an ISP's portal), shown, refused on its fields, or past the claim limit of
    that contract number. Returns the valid form, or the response to give."""
    form = form_class(
        request.POST or None,
        portal=request.portal,
        initial={"provider_code": request.GET.get("codigo", "")},
    )
    if request.method != "POST":
        return None, render(request, template, {"form": form})
    if not form.is_valid():
        return None, render(request, template, {"form": form}, status=400)
    number = form.cleaned_data["number"]
    limited = consume_or_429(request, action="claim", key=f"{form.provider.code}:{number}")
    return (None, limited) if limited else (form, None)


def claim_start(request: HttpRequest) -> HttpResponse:
    """Código + Contrato + Número. Whatever was typed, the answer is the same redirect."""
    form, response = _contract_named(request, ClaimStartForm, "accounts/claim_start.html")
    if response is not None:
        return response
    data = form.cleaned_data
    token = verification_token_new()
    contract = contract_find_claimable(
        provider=form.provider, number=data["number"], phone=data["phone"]
    )
    # Past the SMS limit of a contract nothing more is sent, but the answer stays the same:
    # a 429 here would tell a stranger that the contract and phone match. Matching or not,
    # the same rows are written and the SMS leaves from the worker, after the answer.
    if contract is None:
        sms_allowed(request, key="contract:none", dry_run=True)  # what a match would cost
    elif not sms_allowed(request, key=f"contract:{contract.pk}"):
        contract = None
    contract_claim_start(contract=contract, token=token)
    request.session[CLAIM_TOKEN] = token
    request.session[CLAIM_PROVIDER] = form.provider.pk
    _same_answer_sent(request)
    return redirect("claim_verify")


def claim_by_email(request: HttpRequest) -> HttpResponse:
    """Primer ingreso: Código + Contrato + Correo; the same answer whatever matched."""
    form, response = _contract_named(request, ClaimByEmailForm, "accounts/claim_by_email.html")
    if response is not None:
        return response
    data = form.cleaned_data
    contract = contract_find_claimable_by_email(
        provider=form.provider, number=data["number"], email=data["email"]
    )
    claim_link_start(contract=contract, base_url=request.build_absolute_uri(reverse("home")))
    messages.info(
        request,
        _(
            "Si los datos coinciden y tu proveedor lo permite, enviamos un enlace al correo "
            "registrado para crear tu cuenta."
        ),
    )
    return redirect("account_login")


def claim_link(request: HttpRequest, token: str) -> HttpResponse:
    """The e-mailed link: the contract is verified as a typed SMS code would verify it."""
    contract = claim_link_contract(token=token)
    if contract is None or (request.portal and contract.provider_id != request.portal.pk):
        messages.error(request, _("El enlace venció, ya se usó o el contrato ya tiene cuenta."))
        return redirect("claim_start")
    _verified_store(request, CLAIM_VERIFIED, contract.pk)
    return redirect("claim_account")


def claim_verify(request: HttpRequest) -> HttpResponse:
    """The 6-digit code. A wrong one, for whatever reason, answers with the same redirect."""
    token = request.session.get(CLAIM_TOKEN)
    if not token:
        return redirect("claim_start")
    form = CodeForm(request.POST or None)
    if request.method != "POST":
        provider = provider_active_get(provider_id=request.session.get(CLAIM_PROVIDER))
        return render(request, "accounts/claim_verify.html", {"form": form, "provider": provider})
    limited = consume_or_429(request, action="verify_code")
    if limited:
        return limited
    verification = None
    if form.is_valid():
        verification = verification_code_verify(
            token=token, purpose=VerificationCode.Purpose.CLAIM, code=form.cleaned_data["code"]
        )
    # A decoy's code (nothing matched) reached nobody; were it typed, it leads nowhere.
    if verification is None or verification.contract_id is None:
        _wrong_code(request)
        return redirect("claim_verify")
    del request.session[CLAIM_TOKEN]
    _verified_store(request, CLAIM_VERIFIED, verification.contract_id)
    return redirect("claim_account")


def claim_account(request: HttpRequest) -> HttpResponse:
    """ "Nueva cuenta": shows titular and dirección; asks Cuenta and Contraseña (GUARDAR)."""
    contract_id = _verified_load(request, CLAIM_VERIFIED)
    contract = contract_claimable_get(contract_id=contract_id) if contract_id else None
    if contract is None:
        request.session.pop(CLAIM_VERIFIED, None)
        messages.error(request, _("Tu verificación venció o el contrato ya tiene cuenta."))
        return redirect("claim_start")
    user = request.user
    attach = user.is_authenticated and user.provider_id == contract.provider_id
    form = None if attach else NewAccountForm(request.POST or None, contract=contract)
    context = {"claimed": contract, "form": form, "attach": attach}
    if request.method != "POST":
        return render(request, "accounts/claim_account.html", context)
    try:
        if attach:
            contract_attach(contract_id=contract.pk, user=user)
        elif form.is_valid():
            new_user = contract_claim(
                contract_id=contract.pk,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
            )
        else:
            return render(request, "accounts/claim_account.html", context, status=400)
    except ClaimError as error:
        if form is not None:
            form.add_error("name", str(error))
            return render(request, "accounts/claim_account.html", context, status=400)
        messages.error(request, str(error))
        return redirect("home")
    del request.session[CLAIM_VERIFIED]
    if attach:
        request.session[SESSION_CONTRACT_KEY] = contract.pk
        messages.success(
            request,
            _("Agregamos el contrato %(number)s a tu cuenta.") % {"number": contract.number},
        )
        return redirect("home")
    messages.success(
        request,
        _("Tu cuenta %(username)s está lista. Ingresa con ella y tu contraseña.")
        % {"username": new_user.username},
    )
    return redirect("account_login")


def password_reset_request(request: HttpRequest) -> HttpResponse:
    """ "Olvidé mi contraseña": the same answer whether or not the account exists."""
    form = PasswordResetRequestForm(request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/password_reset_request.html", {"form": form})
    if not form.is_valid():
        return render(request, "accounts/password_reset_request.html", {"form": form}, status=400)
    login = form.cleaned_data["login"].strip().lower()
    limited = consume_or_429(request, action="reset_password", key=login)
    if limited:
        return limited
    token = verification_token_new()
    # An e-mail may belong to logins at several ISPs: each gets its link by e-mail, and
    # the first one the SMS code this browser can type. Past an account's SMS limit, or
    # for no account at all, the same rows are written and nothing is sent: the same
    # answer, for the same work. Everything leaves from the worker, after the answer.
    matched = list(users_for_login(login=login, portal=request.portal).order_by("pk")[:5])
    users = [user for user in matched if sms_allowed(request, key=f"user:{user.pk}")]
    if not matched:
        sms_allowed(request, key="user:none", dry_run=True)  # what a match would cost
    password_reset_start(
        users=users, token=token, reset_url_base=request.build_absolute_uri(reverse("home"))
    )
    request.session[RESET_TOKEN] = token
    messages.info(
        request,
        _(
            "Si la cuenta existe, enviamos un código por SMS al número registrado "
            "y, si tienes correo, un enlace para cambiar tu contraseña."
        ),
    )
    return redirect("password_reset_verify")


def password_reset_verify(request: HttpRequest) -> HttpResponse:
    token = request.session.get(RESET_TOKEN)
    if not token:
        return redirect("password_reset_request")
    form = CodeForm(request.POST or None)
    if request.method != "POST":
        return render(request, "accounts/password_reset_verify.html", {"form": form})
    limited = consume_or_429(request, action="verify_code")
    if limited:
        return limited
    verification = None
    if form.is_valid():
        verification = verification_code_verify(
            token=token,
            purpose=VerificationCode.Purpose.PASSWORD_RESET,
            code=form.cleaned_data["code"],
        )
    if verification is None or verification.user_id is None:
        _wrong_code(request)
        return redirect("password_reset_verify")
    del request.session[RESET_TOKEN]
    _verified_store(request, RESET_VERIFIED, verification.user_id)
    return redirect("password_reset_set")


def password_reset_set(request: HttpRequest) -> HttpResponse:
    user_id = _verified_load(request, RESET_VERIFIED)
    user = (
        User.objects.select_related("provider").filter(pk=user_id, is_active=True).first()
        if user_id
        else None
    )
    if user is None:
        messages.error(request, _("Tu verificación venció. Pide un código nuevo."))
        return redirect("password_reset_request")
    form = NewPasswordForm(request.POST or None, user=user)
    context = {"form": form, "account_user": user}
    if request.method != "POST":
        return render(request, "accounts/password_reset_set.html", context)
    if not form.is_valid():
        return render(request, "accounts/password_reset_set.html", context, status=400)
    user_password_set(user=user, password=form.cleaned_data["password1"])
    del request.session[RESET_VERIFIED]
    messages.success(request, _("Cambiamos tu contraseña. Ingresa con la nueva."))
    return redirect("account_login")


@login_required
@require_POST
def contract_switch(request: HttpRequest) -> HttpResponse:
    contracts, _current = request_contracts(request)
    wanted = request.POST.get("contract", "")
    chosen = next((c for c in contracts if str(c.pk) == wanted), None)
    if chosen is None:
        raise Http404
    request.session[SESSION_CONTRACT_KEY] = chosen.pk
    return redirect("home")


def privacy_notice(request: HttpRequest) -> HttpResponse:
    """The aviso de privacidad of the ISP whose portal this is (or the subscriber's)."""
    provider = request.portal
    if provider is None and request.user.is_authenticated:
        provider = request.user.provider
    if provider is None:
        provider = provider_only_active()
    return render(request, "accounts/privacy_notice.html", {"provider": provider})


def provider_logo(request: HttpRequest, code: str) -> HttpResponse:
    """The ISP's logo for its portal's top bar (uploaded in admin); public, cached a day."""
    provider = provider_for_code(code=code)
    if provider is None or not provider.logo:
        raise Http404
    response = FileResponse(provider.logo.open("rb"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
