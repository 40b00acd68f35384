"""Outgoing SMS, chosen by the SMS_BACKEND setting the way EMAIL_BACKEND chooses mail."""

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsDeliveryError(Exception):
    """The gateway did not take the message. The text is never part of the error."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class BaseBackend:
    def send(self, message: SmsMessage) -> None:
        raise NotImplementedError


class ConsoleBackend(BaseBackend):
    """Prints the message in the server's console: `make run` shows codes there."""

    def send(self, message: SmsMessage) -> None:
        print(f"[SMS to {message.to}] {message.body}", flush=True)  # noqa: T201


class LocmemBackend(BaseBackend):
    """Keeps messages in `accounts.sms.outbox`, for tests."""

    def send(self, message: SmsMessage) -> None:
        outbox.append(message)


class FileBackend(BaseBackend):
    """Writes one file per message in SMS_FILE_PATH."""

    def send(self, message: SmsMessage) -> None:
        directory = Path(settings.SMS_FILE_PATH)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
        path = directory / f"{stamp}-{secrets.token_hex(4)}.txt"
        path.write_text(f"To: {message.to}\n\n{message.body}\n", encoding="utf-8")


class HttpBackend(BaseBackend):
    """POSTs {"to", "text"} as JSON to SMS_HTTP_URL with a bearer token."""

    def send(self, message: SmsMessage) -> None:
        try:
            response = requests.post(
                settings.SMS_HTTP_URL,
                json={"to": message.to, "text": message.body},
                headers={"Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}"},
                timeout=settings.SMS_HTTP_TIMEOUT,
            )
        except requests.RequestException as error:
            logger.warning("SMS gateway unreachable: %s", type(error).__name__)
            raise SmsDeliveryError from None
        if response.status_code >= 300:
            logger.warning("SMS gateway refused a message: HTTP %s", response.status_code)
            raise SmsDeliveryError


outbox: list[SmsMessage] = []


def get_backend() -> BaseBackend:
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, to: str, body: str) -> None:
    get_backend().send(SmsMessage(to=to, body=body))
