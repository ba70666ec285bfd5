"""/api/openapi.json: a valid OpenAPI document that documents every body the upload accepts and
the bearer scheme, complete enough that a client generated from it uploads a video end to end.

The validator (openapi-spec-validator) and the generator (openapi-python-client) are locked in
the dev group, so this runs offline; the generated client lives in a temp dir only.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from tests.conftest import Stack, require
from tests.support import make_webm, split, stored_original

CHUNK_PATHS = ("/api/record/videos/update_video_chunck", "/api/record/videos/{video_id}/update_video_chunck")
FINALIZE_PATHS = ("/api/record/videos/finalize_video_upload", "/api/record/videos/{video_id}/finalize_video_upload")
CHUNK_FILE_FIELDS = ("video_chunck", "video_chunk", "video_file")
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "recordplus_generated_client"


@pytest.fixture(scope="module")
def spec(embedded_stack: Stack) -> dict[str, Any]:
    response = httpx.get(f"{embedded_stack.url}/api/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _form_properties(operation: dict[str, Any], media_type: str) -> dict[str, Any]:
    return operation["requestBody"]["content"][media_type]["schema"]["properties"]


def _query_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}


def _is_binary(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and schema.get("format") == "binary"


def test_it_is_a_valid_openapi_document(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema
    broken = {**spec, "paths": {**spec["paths"], "/api/record/videos": {"post": {"responses": "nope"}}}}
    with pytest.raises(OpenAPIValidationError):  # the validator really checks
        validate(broken)


def test_it_documents_the_bearer_scheme(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["BearerToken"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"].startswith("rp_")
    assert "ALLOW_ANONYMOUS" in scheme["description"]
    for path, method, operation in _operations(spec):
        # The embedded test stack allows anonymous use, so `{}` (no token) is an alternative.
        assert operation.get("security") == [{"BearerToken": []}, {}], (method, path)
    assert "/u/<secret>/api/record/" in spec["info"]["description"]


def test_it_requires_the_token_when_anonymous_use_is_off(settings: Any) -> None:
    from recordplus.config.api import api

    settings.ALLOW_ANONYMOUS = False
    schema = api.get_openapi_schema(path_params={})
    securities = [operation.get("security") for _, _, operation in _operations(schema)]
    assert securities and all(security == [{"BearerToken": []}] for security in securities)


def test_it_documents_the_chunk_upload_bodies(spec: dict[str, Any]) -> None:
    for path in CHUNK_PATHS:
        operation = spec["paths"][path]["patch"]
        body = operation["requestBody"]
        assert body["required"] is True, path
        fields = _form_properties(operation, "multipart/form-data")
        for name in CHUNK_FILE_FIELDS:
            assert _is_binary(fields[name]), (path, name)
        assert fields["chunk_index"]["type"] == "integer", path
        assert fields["video_id"]["type"] == "integer", path
        assert _is_binary(body["content"]["application/octet-stream"]["schema"]), path
        assert "chunk_index" in _query_names(operation), path
    assert "video_id" in _query_names(spec["paths"][CHUNK_PATHS[0]]["patch"])


def test_it_documents_the_optional_video_id_of_finalize(spec: dict[str, Any]) -> None:
    for path in FINALIZE_PATHS:
        operation = spec["paths"][path]["post"]
        assert operation["requestBody"]["required"] is False, path
        for media_type in ("multipart/form-data", "application/x-www-form-urlencoded", "application/json"):
            schema = operation["requestBody"]["content"][media_type]["schema"]
            assert schema["properties"]["video_id"]["type"] == "integer", (path, media_type)
            assert "video_id" not in schema.get("required", []), (path, media_type)
    assert "video_id" in _query_names(spec["paths"][FINALIZE_PATHS[0]]["post"])


def test_it_documents_the_create_fields(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/api/record/videos"]["post"]
    multipart = _form_properties(operation, "multipart/form-data")
    assert multipart["title"]["type"] == "string" and multipart["title"]["maxLength"] == 255
    assert multipart["description"]["type"] == "string" and multipart["description"]["maxLength"] == 5000
    assert _is_binary(multipart["video_file"])
    for media_type in ("application/x-www-form-urlencoded", "application/json"):
        assert {"title", "description"} <= set(_form_properties(operation, media_type)), media_type
    assert _is_binary(operation["requestBody"]["content"]["application/octet-stream"]["schema"])
    assert {"title", "description"} <= _query_names(operation)


def test_it_documents_the_list_pages(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/api/record/videos"]["get"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert params["cursor"]["schema"]["type"] == "string"
    ok = operation["responses"]["200"]
    assert set(ok["headers"]) == {"X-Next-Cursor", "Link"}
    assert ok["content"]["application/json"]["schema"]["type"] == "array"  # still a plain list


def test_it_documents_signed_media_urls(spec: dict[str, Any]) -> None:
    video = spec["components"]["schemas"]["VideoOut"]
    assert video["properties"]["signed_urls"] == {"$ref": "#/components/schemas/SignedUrlsOut"}
    assert {"expires_at", "stream", "thumbnail", "original", "transcript"} <= set(
        spec["components"]["schemas"]["SignedUrlsOut"]["properties"]
    )
    for path in ("stream_video", "thumbnail", "original", "transcript"):
        operation = spec["paths"][f"/api/record/videos/{{video_id}}/{path}"]["get"]
        assert {"expires", "sig"} <= _query_names(operation), path
        assert "403" in operation["responses"], path


@pytest.fixture
def generated(embedded_stack: Stack, tmp_path: Path) -> Iterator[Any]:
    """A client generated from the live schema by openapi-python-client, imported from a temp dir."""
    require(GENERATOR.exists(), "openapi-python-client (dev dependency group: uv sync --all-groups)")
    schema = tmp_path / "openapi.json"
    schema.write_bytes(httpx.get(f"{embedded_stack.url}/api/openapi.json", timeout=30).content)
    config = tmp_path / "generator.yaml"
    # No post hooks: formatting the output is not what this test checks.
    config.write_text(f"package_name_override: {PACKAGE}\nproject_name_override: {PACKAGE}\npost_hooks: []\n")
    result = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(schema), "--output-path", str(tmp_path / PACKAGE),
         "--config", str(config), "--meta", "none"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _piece(data: bytes, index: int, client_module: Any) -> Any:
    return client_module.types.File(payload=BytesIO(data), file_name=f"part{index}.webm", mime_type="video/webm")


def test_it_uploads_a_video_through_a_generated_client(
    generated: Any, embedded_stack: Stack, tmp_path: Path
) -> None:
    ops = {
        name: importlib.import_module(f"{PACKAGE}.api.videos.recordplus_videos_api_{name}")
        for name in ("create_video", "update_video_chunk", "update_video_chunk_by_path",
                     "finalize_video_upload", "get_upload_status", "get_video", "get_original", "list_videos")
    }
    models = importlib.import_module(f"{PACKAGE}.models")
    data = make_webm(tmp_path / "clip.webm", seconds=4).read_bytes()
    pieces = split(data, [len(data) // 4] * 3)
    assert len(pieces) == 4
    token = embedded_stack.create_user(f"openapi-{uuid.uuid4().hex[:8]}")
    client = generated.AuthenticatedClient(
        base_url=embedded_stack.url, token=token, raise_on_unexpected_status=True, timeout=httpx.Timeout(60)
    )

    created = ops["create_video"].sync(
        client=client,
        body=models.RecordplusVideosApiCreateVideoFilesVideoCreateForm(
            title="generated client", description="uploaded by openapi-python-client",
            video_file=_piece(pieces[0], 0, generated),
        ),
    )
    assert isinstance(created, models.VideoCreatedOut), created
    video_id = created.video_id

    # Multipart with the id in the form, multipart with the id in the path, a raw octet-stream body.
    sent = [
        ops["update_video_chunk"].sync(
            client=client,
            body=models.RecordplusVideosApiUpdateVideoChunkFilesChunkForm(
                video_id=video_id, chunk_index=1, video_chunck=_piece(pieces[1], 1, generated)
            ),
        ),
        ops["update_video_chunk_by_path"].sync(
            video_id,
            client=client,
            body=models.RecordplusVideosApiUpdateVideoChunkByPathFilesChunkByPathForm(
                chunk_index=2, video_chunk=_piece(pieces[2], 2, generated)
            ),
        ),
        ops["update_video_chunk"].sync(
            client=client,
            body=generated.types.File(payload=BytesIO(pieces[3])),
            video_id=video_id,
            chunk_index=3,
        ),
    ]
    for index, answer in enumerate(sent, start=1):
        assert isinstance(answer, models.ChunkOut), answer
        assert (answer.chunk_index, answer.size, answer.duplicate) == (index, len(pieces[index]), False)

    status = ops["get_upload_status"].sync(video_id, client=client)
    assert isinstance(status, models.UploadStatusOut), status
    assert (status.received, status.missing, status.bytes_) == ([0, 1, 2, 3], [], len(data))

    finalized = ops["finalize_video_upload"].sync(
        client=client, body=models.RecordplusVideosApiFinalizeVideoUploadJsonFinalizeJson(video_id=video_id)
    )
    assert isinstance(finalized, models.MessageOut), finalized
    assert finalized.message == "Transcription task initiated"

    deadline = time.monotonic() + 180
    video = ops["get_video"].sync(video_id, client=client)
    while video.status not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.25)
        video = ops["get_video"].sync(video_id, client=client)
    assert isinstance(video, models.VideoOut), video
    assert video.status == "ready", (video.status, video.error, embedded_stack.logs())

    original = ops["get_original"].sync(video_id, client=client)
    assert isinstance(original, generated.types.File), original
    assert original.payload.read() == data
    assert stored_original(embedded_stack, {"public_id": created.public_id}) == data

    # The signed URL in the generated model plays without the client's token.
    signed = httpx.get(video.signed_urls.original, timeout=60)
    assert signed.status_code == 200 and signed.content == data

    # The list's documented parameters: one video a page, the next page by its cursor.
    ops["create_video"].sync(
        client=client, body=models.RecordplusVideosApiCreateVideoFilesVideoCreateForm(title="second")
    )
    first = ops["list_videos"].sync_detailed(client=client, limit=1)
    assert [v.title for v in first.parsed] == ["second"]
    cursor = first.headers["x-next-cursor"]
    second = ops["list_videos"].sync(client=client, limit=1, cursor=cursor)
    assert [v.id for v in second] == [video_id]
