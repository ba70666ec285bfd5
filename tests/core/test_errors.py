"""The one error hierarchy: its body shape, what every class declares, and the API rendering a
raised error once, as exactly `{"message", "detail"}` with the class's status."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.test import RequestFactory
from ninja import NinjaAPI, Router
from ninja.errors import AuthenticationError, HttpError
from ninja.testing import TestClient

from recordplus.config import api as api_module
from recordplus.core import errors
from recordplus.core.errors import (
    BadRequest,
    Conflict,
    JobFailed,
    MediaRejected,
    NotFound,
    RangeNotSatisfiable,
    RecordPlusError,
    ServiceUnavailable,
    error_body,
)

SERVICES = Path(__file__).resolve().parents[2] / "services"
rf = RequestFactory()


def _modules_defining_errors() -> list[str]:
    """Every module under services/ that defines a class deriving (by name, transitively)
    from RecordPlusError: found in the source, so a new module cannot be forgotten here."""
    classes: dict[str, tuple[str, list[str]]] = {}
    for path in SERVICES.glob("*/src/recordplus/**/*.py"):
        service = path.relative_to(SERVICES).parts[0]
        parts = path.relative_to(SERVICES / service / "src").with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases]
                classes[node.name] = (module, bases)
    errorish = {"RecordPlusError"}
    changed = True
    while changed:
        changed = False
        for name, (_, bases) in classes.items():
            if name not in errorish and errorish.intersection(bases):
                errorish.add(name)
                changed = True
    return sorted({classes[name][0] for name in errorish if name in classes})


def all_error_classes() -> list[type[RecordPlusError]]:
    for module in _modules_defining_errors():
        importlib.import_module(module)
    found: list[type[RecordPlusError]] = []
    todo = [RecordPlusError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def instance(cls: type[RecordPlusError]) -> RecordPlusError:
    """One instance of `cls`, whatever its constructor takes."""
    for args, kwargs in (
        (("it went wrong",), {}),
        (("it went wrong", 123), {}),
        (("it went wrong",), {"argv": ["ffmpeg"], "returncode": 1, "stderr_tail": "boom"}),
        ((30,), {}),
    ):
        try:
            return cls(*args, **kwargs)
        except TypeError:
            continue
    raise AssertionError(f"cannot build a {cls.__qualname__} to test")


ERROR_CLASSES = all_error_classes()


# --- error_body ---------------------------------------------------------------------------


def test_it_spells_the_error_body() -> None:
    assert error_body("video 5 not found") == {"message": "video 5 not found", "detail": None}
    assert error_body("gaps", {"missing": [2, 3]}) == {"message": "gaps", "detail": {"missing": [2, 3]}}
    assert list(error_body("m", 1)) == ["message", "detail"]


def test_it_gives_every_error_its_body() -> None:
    error = Conflict("chunk 3 differs", {"chunk_index": 3})
    assert error.body() == {"message": "chunk 3 differs", "detail": {"chunk_index": 3}}
    assert str(error) == error.message == "chunk 3 differs"
    assert BadRequest("no").body() == {"message": "no", "detail": None}


def test_it_puts_the_size_in_a_416() -> None:
    error = RangeNotSatisfiable("starts beyond the end", 1234)
    assert error.size == 1234
    assert error.body() == {"message": "starts beyond the end", "detail": {"size": 1234}}


# --- the hierarchy ------------------------------------------------------------------------


def test_it_finds_the_hierarchy_in_every_service() -> None:
    names = {cls.__qualname__ for cls in ERROR_CLASSES}
    # One from each place errors are defined; proves the discovery above looks everywhere.
    assert {"BadRequest", "MediaRejected", "FFmpegNotFound", "CorruptMedia", "TranscriberError"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__qualname__)
def test_it_declares_what_every_error_means(cls: type[RecordPlusError]) -> None:
    assert 400 <= cls.status <= 599
    assert re.fullmatch(r"[a-z][a-z_]*", cls.code), cls.code
    # reason is a Prometheus label value: a short, stable slug.
    assert re.fullmatch(r"[a-z][a-z_]*", cls.reason), cls.reason
    assert isinstance(cls.permanent, bool)
    own_doc = cls.__dict__.get("__doc__")
    assert own_doc and own_doc.strip(), f"{cls.__qualname__} has no docstring of its own"


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__qualname__)
def test_it_builds_every_error_with_a_message(cls: type[RecordPlusError]) -> None:
    error = instance(cls)
    assert isinstance(error.message, str) and error.message
    assert str(error) == error.message
    assert set(error.body()) == {"message", "detail"}
    json.dumps(error.body())  # renderable as it is


def test_it_has_the_documented_defaults() -> None:
    assert (RecordPlusError.status, RecordPlusError.code) == (400, "bad_request")
    assert RecordPlusError.permanent is True
    assert RecordPlusError.reason == "error"
    assert (ServiceUnavailable.status, ServiceUnavailable.permanent, ServiceUnavailable.reason) == (503, False, "unavailable")
    assert (MediaRejected.status, MediaRejected.permanent, MediaRejected.reason) == (422, True, "rejected")
    assert (JobFailed.permanent, JobFailed.reason) == (True, "failed")


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (errors.BadRequest, 400, "bad_request"),
        (errors.Unauthorized, 401, "unauthorized"),
        (errors.NotFound, 404, "not_found"),
        (errors.Conflict, 409, "conflict"),
        (errors.LengthRequired, 411, "length_required"),
        (errors.PayloadTooLarge, 413, "payload_too_large"),
        (errors.RangeNotSatisfiable, 416, "range_not_satisfiable"),
        (errors.MediaRejected, 422, "media_rejected"),
        (errors.ServiceUnavailable, 503, "unavailable"),
    ],
)
def test_it_maps_each_client_error_to_its_status(cls: type[RecordPlusError], status: int, code: str) -> None:
    assert (cls.status, cls.code) == (status, code)


def test_it_keeps_the_hierarchy_framework_free() -> None:
    tree = ast.parse(Path(errors.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"django", "dramatiq", "ninja"}


# --- rendering by the API -----------------------------------------------------------------


def rendered(response: HttpResponse) -> dict:
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__qualname__)
def test_it_renders_every_error_as_the_json_body(cls: type[RecordPlusError]) -> None:
    error = instance(cls)
    response = api_module.api.on_exception(rf.get("/api/record/videos"), error)
    assert response.status_code == cls.status
    assert rendered(response) == {"message": error.message, "detail": error.detail}


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (AuthenticationError(), 401, "authentication required"),
        (HttpError(405, "Method not allowed"), 405, "Method not allowed"),
        (RequestDataTooBig("too big"), 413, "request body too large"),
    ],
    ids=["auth", "http-error", "too-big"],
)
def test_it_renders_the_framework_errors_the_same_way(error: Exception, status: int, message: str) -> None:
    response = api_module.api.on_exception(rf.get("/api/record/videos"), error)
    assert response.status_code == status
    assert rendered(response) == {"message": message, "detail": None}


@pytest.fixture(scope="module")
def client() -> TestClient:
    """A small router on an API with the real handlers: errors raised in a view are rendered."""
    router = Router()

    @router.get("/missing")
    def missing(request):  # noqa: ANN001, ANN202
        raise NotFound("video 5 not found")

    @router.get("/gaps")
    def gaps(request):  # noqa: ANN001, ANN202
        raise Conflict("chunks missing: 2, 3", {"missing": [2, 3]})

    @router.get("/down")
    def down(request):  # noqa: ANN001, ANN202
        raise ServiceUnavailable("storage unreachable")

    @router.get("/items/{item_id}")
    def item(request, item_id: int):  # noqa: ANN001, ANN202
        return {"id": item_id}

    test_api = NinjaAPI(urls_namespace="test-errors")
    for exc_class, handler in (
        (RecordPlusError, api_module.on_recordplus_error),
        (api_module.NinjaValidationError, api_module.on_validation_error),
        (AuthenticationError, api_module.on_auth_error),
        (HttpError, api_module.on_http_error),
        (RequestDataTooBig, api_module.on_too_big),
    ):
        test_api.add_exception_handler(exc_class, handler)
    test_api.add_router("/", router)
    return TestClient(test_api)


def test_it_renders_a_raised_error(client: TestClient) -> None:
    response = client.get("/missing")
    assert response.status_code == 404
    assert response.json() == {"message": "video 5 not found", "detail": None}


def test_it_renders_the_detail(client: TestClient) -> None:
    response = client.get("/gaps")
    assert response.status_code == 409
    assert response.json() == {"message": "chunks missing: 2, 3", "detail": {"missing": [2, 3]}}


def test_it_renders_a_5xx_error(client: TestClient) -> None:
    response = client.get("/down")
    assert response.status_code == 503
    assert response.json() == {"message": "storage unreachable", "detail": None}


def test_it_renders_an_invalid_parameter_as_a_400(client: TestClient) -> None:
    assert client.get("/items/7").json() == {"id": 7}
    response = client.get("/items/abc")
    assert response.status_code == 400
    answer = response.json()
    assert set(answer) == {"message", "detail"}
    assert answer["message"] == "invalid request: path.item_id"
    assert isinstance(answer["detail"], list) and answer["detail"][0]["loc"] == ["path", "item_id"]
