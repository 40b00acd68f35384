"""WhatsApp, shaped like the SMS gateway: POST {"to", "text"} with a bearer token to
WHATSAPP_HTTP_URL (a provider's business API or a relay of the ISP's own)."""

import logging

import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class WhatsAppDeliveryError(Exception):
    """The gateway did not take the message. The text is never part of the error."""


class WhatsAppHttpBackend:
    def send(self, *, to: str, body: str) -> None:
        try:
            response = requests.post(
                settings.WHATSAPP_HTTP_URL,
                json={"to": to, "text": body},
                headers={"Authorization": f"Bearer {settings.WHATSAPP_HTTP_TOKEN}"},
                timeout=settings.SMS_HTTP_TIMEOUT,
            )
        except requests.RequestException as error:
            logger.warning("WhatsApp gateway unreachable: %s", type(error).__name__)
            raise WhatsAppDeliveryError from None
        if response.status_code >= 300:
            logger.warning("WhatsApp gateway refused a message: HTTP %s", response.status_code)
            raise WhatsAppDeliveryError


outbox: list[tuple[str, str]] = []


class WhatsAppLocmemBackend:
    """Keeps messages in `notifications.backends.outbox`, for tests."""

    def send(self, *, to: str, body: str) -> None:
        outbox.append((to, body))
