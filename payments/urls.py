from django.urls import path

from . import views

urlpatterns = [
    path("planes/<int:plan_id>/adquirir/", views.plan_purchase, name="plan_purchase"),
    path("pagos/", views.payment_list, name="payment_list"),
    path("pagos/nuevo/", views.payment_new, name="payment_new"),
    path("pagos/<uuid:public_id>/", views.payment_detail, name="payment_detail"),
    path("pagos/<uuid:public_id>/comprobante.pdf", views.payment_voucher, name="payment_voucher"),
    path("pagos/<uuid:public_id>/cancelar/", views.payment_cancel_view, name="payment_cancel"),
    path("facturas/<int:number>/pagar/", views.invoice_pay, name="invoice_pay"),
    path("promesa-de-pago/", views.promise_new, name="promise_new"),
    path("webhooks/<str:gateway>/<str:provider_code>/", views.webhook, name="webhook"),
]
