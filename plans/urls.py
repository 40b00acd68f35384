from django.urls import path

from . import views

urlpatterns = [
    path("planes/", views.prepaid_plans, name="prepaid_plans"),
]
