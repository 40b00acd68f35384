from django.contrib import admin

from core.admin import TenantAdmin

from .models import Plan, Promotion, Zone


@admin.register(Zone)
class ZoneAdmin(TenantAdmin):
    list_display = ["name", "provider"]
    list_filter = ["provider"]
    list_select_related = ["provider"]
    search_fields = ["name"]


@admin.register(Plan)
class PlanAdmin(TenantAdmin):
    list_display = [
        "name",
        "provider",
        "download_mbps",
        "upload_mbps",
        "price",
        "period_days",
        "billing_mode",
        "is_active",
    ]
    list_filter = ["provider", "billing_mode", "is_active", "zones"]
    list_select_related = ["provider"]
    search_fields = ["name"]
    filter_horizontal = ["zones"]


@admin.register(Promotion)
class PromotionAdmin(TenantAdmin):
    list_display = ["title", "provider", "starts_on", "ends_on", "effect", "is_active"]
    list_filter = ["provider", "effect", "is_active"]
    list_select_related = ["provider"]
    search_fields = ["title", "text"]
    filter_horizontal = ["zones", "plans"]
