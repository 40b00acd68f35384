from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import LoginView
from payments import console
from portal import views

# Staff sign in through the same allauth login, which asks for their TOTP code.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Antena"
admin.site.site_title = "Antena"
# The index and the breadcrumbs lead everywhere; the sidebar took a fifth of a 1280 px
# screen from the lists.
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", views.home, name="home"),
    path("servicios/", views.services, name="services"),
    path("", include("billing.urls")),
    path("", include("plans.urls")),
    path("", include("payments.urls")),
    path("soporte/", views.upcoming, {"page": "support"}, name="support"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="account_login"),
    # Mi cuenta composes accounts and notifications ("Avisos"): it lives here.
    path("cuenta/", views.my_account, name="my_account"),
    path("cuenta/avisos/", views.notice_channels, name="notice_channels"),
    path("cuenta/", include("accounts.urls")),
    # One way to recover a password: Olvidé mi contraseña (SMS code, or e-mail link).
    path(
        "accounts/password/reset/",
        RedirectView.as_view(pattern_name="password_reset_request"),
        name="account_reset_password",
    ),
    # allauth's own pages a subscriber has no use for lead to ours (they would speak
    # Spain's Spanish in another layout): e-mail addresses and "set a password" to Mi
    # cuenta and Ajustes, the e-mail-only reset's "sent" page to Olvidé mi contraseña.
    path("accounts/email/", RedirectView.as_view(pattern_name="my_account")),
    path(
        "accounts/password/set/",
        RedirectView.as_view(pattern_name="account_change_password"),
    ),
    path(
        "accounts/password/reset/done/",
        RedirectView.as_view(pattern_name="password_reset_request"),
    ),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    # The support agents' console sits inside the admin: same login, staff check and TOTP.
    path(
        "admin/agentes/",
        admin.site.admin_view(lambda request: console.console_search(request, admin.site)),
        name="payments_console",
    ),
    path(
        "admin/agentes/pagos/<int:pk>/",
        admin.site.admin_view(lambda request, pk: console.console_payment(request, admin.site, pk)),
        name="payments_console_payment",
    ),
    path("admin/", admin.site.urls),
]
