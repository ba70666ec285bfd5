"""A 405 answer is JSON and, as RFC 9110 requires, carries an `Allow` header listing the methods."""

from __future__ import annotations

from tests.conftest import Stack


def test_it_sends_the_allow_header_with_a_405(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        response = client.get("/api/record/videos/update_video_chunck")
        assert response.status_code == 405
        assert response.headers["content-type"].startswith("application/json")
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert "PATCH" in allowed and "GET" not in allowed
        assert response.json()["detail"]["allow"] == response.headers["allow"]
        assert "DELETE" not in client.delete("/api/record/videos/").headers["allow"]
