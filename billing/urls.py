from django.urls import path

from . import views

urlpatterns = [
    path("estado-de-cuenta/", views.statement, name="statement"),
    path("facturas/", views.invoice_list, name="invoices"),
    path("facturas/<int:number>/", views.invoice_detail, name="invoice_detail"),
    path("facturas/<int:number>/pdf/", views.invoice_pdf, name="invoice_pdf"),
]
