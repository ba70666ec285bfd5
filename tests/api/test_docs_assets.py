"""The interactive docs load offline, and serving their assets warns about nothing."""

from __future__ import annotations

import re

from tests.conftest import Stack

WARNING = "StreamingHttpResponse must consume synchronous iterators"


def test_it_serves_the_docs_assets_without_a_warning(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        page = client.get("/api/docs")
        assert page.status_code == 200
        assets = set(re.findall(r'(/static/ninja/[^"\'?]+)', page.text))
        assert any(a.endswith("swagger-ui-bundle.js") for a in assets), page.text
        for asset in sorted(assets):
            response = client.get(asset)
            assert response.status_code == 200, asset
            assert int(response.headers["content-length"]) == len(response.content) > 0
            cached = client.get(asset, headers={"If-Modified-Since": response.headers["last-modified"]})
            assert cached.status_code == 304, asset
        assert client.get("/static/ninja/../../settings.py").status_code == 404
        assert client.get("/static/ninja/nothing-here.js").status_code == 404
    assert WARNING not in embedded_stack.logs()
