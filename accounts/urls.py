from django.urls import path

from . import views

urlpatterns = [
    path("crear/", views.claim_start, name="claim_start"),
    path("crear/codigo/", views.claim_verify, name="claim_verify"),
    path("crear/nueva/", views.claim_account, name="claim_account"),
    path("crear/correo/", views.claim_by_email, name="claim_by_email"),
    path("crear/enlace/<str:token>/", views.claim_link, name="claim_link"),
    path("recuperar/", views.password_reset_request, name="password_reset_request"),
    path("recuperar/codigo/", views.password_reset_verify, name="password_reset_verify"),
    path("recuperar/nueva/", views.password_reset_set, name="password_reset_set"),
    path("contrato/", views.contract_switch, name="contract_switch"),
    path("aviso-de-privacidad/", views.privacy_notice, name="privacy_notice"),
    path("logo/<str:code>/", views.provider_logo, name="provider_logo"),
]
