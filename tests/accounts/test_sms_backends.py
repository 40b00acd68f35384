"""SMS_BACKEND works like EMAIL_BACKEND: console, locmem, file and an HTTP gateway."""

import pytest
from werkzeug import Response

from accounts import sms


def test_console_backend_prints_the_message(settings, capsys):
    settings.SMS_BACKEND = "accounts.sms.ConsoleBackend"
    sms.sms_send(to="+525512345678", body="KONA: tu código es 123456.")
    assert "[SMS to +525512345678] KONA: tu código es 123456." in capsys.readouterr().out


def test_locmem_backend_keeps_messages(settings):
    settings.SMS_BACKEND = "accounts.sms.LocmemBackend"
    sms.sms_send(to="+525512345678", body="hola")
    assert sms.outbox == [sms.SmsMessage(to="+525512345678", body="hola")]


def test_file_backend_writes_one_file_per_message(settings, tmp_path):
    settings.SMS_BACKEND = "accounts.sms.FileBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    sms.sms_send(to="+525512345678", body="uno 111111")
    sms.sms_send(to="+525587654321", body="dos 222222")
    files = sorted((tmp_path / "sms").iterdir())
    assert len(files) == 2
    texts = sorted(path.read_text(encoding="utf-8") for path in files)
    assert texts == ["To: +525512345678\n\nuno 111111\n", "To: +525587654321\n\ndos 222222\n"]


@pytest.fixture
def http_sms(settings, httpserver):
    settings.SMS_BACKEND = "accounts.sms.HttpBackend"
    settings.SMS_HTTP_URL = httpserver.url_for("/send")
    settings.SMS_HTTP_TOKEN = "tok-123"
    settings.SMS_HTTP_TIMEOUT = 0.5
    return httpserver


def test_http_backend_posts_json_with_bearer_token(http_sms):
    http_sms.expect_oneshot_request(
        "/send",
        method="POST",
        headers={"Authorization": "Bearer tok-123"},
        json={"to": "+525512345678", "text": "código 654321"},
    ).respond_with_json({"id": "abc"}, status=201)
    sms.sms_send(to="+525512345678", body="código 654321")
    http_sms.check_assertions()


def test_http_backend_gateway_error_raises_without_the_text(http_sms, caplog):
    http_sms.expect_request("/send").respond_with_data("no credit", status=402)
    with pytest.raises(sms.SmsDeliveryError) as error:
        sms.sms_send(to="+525512345678", body="código 654321")
    assert "654321" not in str(error.value)
    assert "654321" not in caplog.text
    assert "tok-123" not in caplog.text


def test_http_backend_timeout_raises(http_sms):
    import time

    def slow(request):
        time.sleep(1.5)
        return Response("late")

    http_sms.expect_request("/send").respond_with_handler(slow)
    with pytest.raises(sms.SmsDeliveryError):
        sms.sms_send(to="+525512345678", body="código 654321")
