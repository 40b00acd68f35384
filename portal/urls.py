from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from accounts.views import LoginView
from portal import views

# Staff sign in through the same allauth login, which asks for their TOTP code.
admin.site.login = secure_admin_login(admin.site.login)
admin.site.site_header = "Antena"
admin.site.site_title = "Antena"

urlpatterns = [
    path("", views.home, name="home"),
    path("servicios/", views.services, name="services"),
    path("", include("billing.urls")),
    path("", include("plans.urls")),
    path("", include("payments.urls")),
    path("soporte/", views.upcoming, {"page": "support"}, name="support"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="account_login"),
    path("cuenta/", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
]
