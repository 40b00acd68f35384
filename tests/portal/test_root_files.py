"""Files every browser or crawler asks for at the site's root."""

import pytest


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/favicon.ico", "image/"), ("/robots.txt", "text/plain")],
)
def test_the_root_files_are_served(client, path, content_type):
    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert b"".join(response.streaming_content)
