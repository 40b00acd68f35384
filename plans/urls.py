from django.urls import path

from . import views

urlpatterns = [
    path("planes/", views.prepaid_plans, name="prepaid_plans"),
    path("planes/<int:plan_id>/adquirir/", views.plan_purchase, name="plan_purchase"),
]
