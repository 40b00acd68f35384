"""Staff: the ISP's own words for each message, and the log of what was sent."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from core.admin import TenantAdmin

from .models import MessageTemplate, Notification
from .texts import HELP, PLACEHOLDERS, default_text, unknown_placeholders


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["provider", "kind", "text"]
        help_texts = {"text": HELP}

    def clean(self):
        data = super().clean()
        kind, text = data.get("kind"), data.get("text")
        if kind and text:
            unknown = unknown_placeholders(kind=kind, text=text)
            if unknown:
                self.add_error(
                    "text",
                    _("Este mensaje no conoce: %(names)s. Puede usar: %(known)s.")
                    % {
                        "names": ", ".join(f"{{{name}}}" for name in unknown),
                        "known": ", ".join(f"{{{name}}}" for name in PLACEHOLDERS[kind]),
                    },
                )
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(TenantAdmin):
    form = MessageTemplateForm
    list_display = ["kind", "provider", "text"]
    list_filter = ["kind"]

    def get_changeform_initial_data(self, request):
        """A new template starts from the default words, in the ISP's voice."""
        initial = super().get_changeform_initial_data(request)
        provider = request.user.provider
        kind = request.GET.get("kind")
        if provider is not None and kind in PLACEHOLDERS:
            initial.setdefault("text", default_text(kind=kind, locale=provider.locale))
        return initial


@admin.register(Notification)
class NotificationAdmin(TenantAdmin):
    list_display = ["created_at", "contract", "kind", "channel", "to", "status", "sent_at"]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["contract"]
    search_fields = ["contract__number", "to"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "contract",
        "kind",
        "event",
        "channel",
        "to",
        "body",
        "status",
        "send_after",
        "error",
        "sent_at",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
