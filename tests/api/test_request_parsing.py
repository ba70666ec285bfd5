"""What the many clients in the wild send, read in-process (recordplus.videos.requests with
Django's RequestFactory): every chunk field spelling, the video id from the form, the query
string, JSON or the path, raw octet-stream bodies, and every malformed body refused with a
clear 4xx instead of a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.test import RequestFactory
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from recordplus.core.errors import BadRequest, LengthRequired, PayloadTooLarge, RecordPlusError
from recordplus.videos import requests as req

rf = RequestFactory()
PATH = "/api/record/videos/update_video_chunck"


def multipart(fields: dict[str, Any], *, method: str = "patch", path: str = PATH) -> HttpRequest:
    if method == "post":  # RequestFactory encodes a POST's form itself
        return rf.post(path, data=fields)
    return getattr(rf, method)(path, data=encode_multipart(BOUNDARY, fields), content_type=MULTIPART_CONTENT)


def upload(data: bytes, name: str = "blob") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="video/webm")


def as_json(value: Any, *, method: str = "post", path: str = PATH) -> HttpRequest:
    text = value if isinstance(value, (str, bytes)) else json.dumps(value)
    return getattr(rf, method)(path, data=text, content_type="application/json")


def refused(kind: type[RecordPlusError], call: Any, *args: Any, **kwargs: Any) -> RecordPlusError:
    with pytest.raises(kind) as caught:
        call(*args, **kwargs)
    return caught.value


def read_chunk(request: HttpRequest) -> tuple[bytes, int | None]:
    body, size = req.chunk_body(req.parse(request))
    return body.read(), size


# --- the chunk's bytes ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["video_chunck", "video_chunk", "video_file", "chunk", "file"])
@pytest.mark.parametrize("method", ["patch", "post", "put"])
def test_it_reads_the_chunk_under_every_field_spelling(field: str, method: str) -> None:
    request = multipart({"video_id": "7", field: upload(b"\x1a\x45\xdf\xa3 chunk bytes")}, method=method)
    parsed = req.parse(request)
    body, size = req.chunk_body(parsed)
    assert body.read() == b"\x1a\x45\xdf\xa3 chunk bytes"
    assert size == len(b"\x1a\x45\xdf\xa3 chunk bytes")
    assert req.int_field(parsed, "video_id") == 7
    assert request.method == method.upper()  # borrowed Django's POST parser, then put the method back


def test_it_prefers_the_seed_spelling_when_several_are_sent() -> None:
    fields = ["file", "chunk", "video_file", "video_chunk", "video_chunck"]  # least preferred first
    while fields:
        request = multipart({name: upload(name.encode()) for name in fields})
        assert read_chunk(request)[0] == fields[-1].encode()
        fields.pop()


@pytest.mark.parametrize("ctype", ["application/octet-stream", "video/webm", "video/mp4", "video/x-msvideo", "video/avi"])
def test_it_reads_a_raw_body(ctype: str) -> None:
    data = bytes(range(256)) * 40
    request = rf.patch(f"{PATH}?video_id=12&chunk_index=3", data=data, content_type=ctype)
    parsed = req.parse(request)
    body, size = req.chunk_body(parsed)
    assert body.read() == data
    assert size == len(data)
    assert req.int_field(parsed, "video_id") == 12
    assert req.int_field(parsed, "chunk_index") == 3


def test_it_reads_a_raw_body_with_a_content_type_parameter() -> None:
    request = rf.patch(PATH, data=b"abc", content_type="Video/WebM; codecs=vp8")
    assert read_chunk(request) == (b"abc", 3)


@pytest.mark.parametrize("length", [None, "", "abc", "-5"])
def test_it_reads_a_raw_body_without_a_usable_length(length: str | None) -> None:
    request = rf.patch(PATH, data=b"abcdef", content_type="application/octet-stream")
    if length is None:
        del request.META["CONTENT_LENGTH"]
    else:
        request.META["CONTENT_LENGTH"] = length
    body, size = req.chunk_body(req.parse(request))
    assert size is None
    if length is None:
        assert body.read() == b"abcdef"


def test_it_names_the_field_when_the_chunk_is_missing() -> None:
    parsed = req.parse(multipart({"video_id": "7"}))
    error = refused(BadRequest, req.chunk_body, parsed)
    assert error.status == 400
    assert "no chunk in the request" in error.message and "video_chunck" in error.message
    assert "application/octet-stream" in error.message
    assert error.detail == {"field": "video_chunck"}


def test_it_allows_a_missing_chunk_where_it_is_optional() -> None:
    parsed = req.parse(multipart({"title": "first"}, method="post"))
    assert req.chunk_body(parsed, required=False) is None


@pytest.mark.parametrize("field", ["video_chunck", "video_chunk", "video_file"])
def test_it_refuses_a_chunk_sent_as_text(field: str) -> None:
    request = rf.patch(PATH, data=f"video_id=7&{field}=AAAA", content_type="application/x-www-form-urlencoded")
    error = refused(BadRequest, req.chunk_body, req.parse(request))
    assert f"{field} must be sent as a file" in error.message
    assert error.detail == {"field": field}


def test_it_keeps_an_empty_upload() -> None:
    assert read_chunk(multipart({"video_chunck": upload(b"")})) == (b"", 0)


# --- where the video id comes from ----------------------------------------------------------


def test_it_reads_the_id_from_a_multipart_form() -> None:
    assert req.int_field(req.parse(multipart({"video_id": "41"})), "video_id") == 41


def test_it_reads_the_id_from_a_urlencoded_form() -> None:
    request = rf.patch(PATH, data="video_id=42&chunk_index=0", content_type="application/x-www-form-urlencoded")
    parsed = req.parse(request)
    assert req.int_field(parsed, "video_id") == 42
    assert req.int_field(parsed, "chunk_index") == 0


def test_it_reads_the_id_from_the_query_string() -> None:
    request = multipart({"video_chunck": upload(b"x")}, path=f"{PATH}?video_id=43")
    assert req.int_field(req.parse(request), "video_id") == 43


@pytest.mark.parametrize("value", [44, "44", " 44 "])
def test_it_reads_the_id_from_json(value: Any) -> None:
    assert req.int_field(req.parse(as_json({"video_id": value})), "video_id") == 44


def test_it_lets_the_body_win_over_the_query_string() -> None:
    request = rf.post(f"{PATH}?video_id=1", data="video_id=2", content_type="application/x-www-form-urlencoded")
    assert req.int_field(req.parse(request), "video_id") == 2
    json_request = as_json({"video_id": 3}, path=f"{PATH}?video_id=1")
    assert req.int_field(req.parse(json_request), "video_id") == 3


@pytest.mark.parametrize("body_value", [None, "", "45", 45])
def test_it_takes_the_id_from_the_path(body_value: Any) -> None:
    fields = {} if body_value is None else {"video_id": body_value}
    assert req.int_field(req.parse(as_json(fields)), "video_id", path_value=45, required=True) == 45


@pytest.mark.parametrize("body_value", ["46", 46, "abc"])
def test_it_refuses_a_path_id_that_differs_from_the_body(body_value: Any) -> None:
    parsed = req.parse(as_json({"video_id": body_value}))
    error = refused(BadRequest, req.int_field, parsed, "video_id", path_value=45)
    assert error.status == 400
    assert error.message == f"video_id in the path (45) and in the body ({body_value}) differ"
    assert error.detail == {"field": "video_id"}


def test_it_refuses_a_path_id_that_differs_from_the_query_string() -> None:
    parsed = req.parse(rf.post(f"{PATH}?video_id=9", data=b"", content_type="application/octet-stream"))
    assert "differ" in refused(BadRequest, req.int_field, parsed, "video_id", path_value=8).message


def test_it_requires_the_id() -> None:
    parsed = req.parse(multipart({"video_chunck": upload(b"x")}))
    error = refused(BadRequest, req.int_field, parsed, "video_id", required=True)
    assert error.message == "video_id is required"
    assert error.detail == {"field": "video_id"}
    assert req.int_field(parsed, "chunk_index") is None  # optional fields are simply absent


def test_it_treats_an_empty_value_as_absent() -> None:
    parsed = req.parse(as_json({"video_id": "", "chunk_index": None}))
    assert req.int_field(parsed, "chunk_index") is None
    assert refused(BadRequest, req.int_field, parsed, "video_id", required=True).message == "video_id is required"


# --- integers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), ("0", 0), (-5, -5), ("-5", -5), (2**31 - 1, 2**31 - 1), (str(2**31 - 1), 2**31 - 1), (-(2**31) + 1, -(2**31) + 1)],
)
def test_it_accepts_integers_in_range(value: Any, expected: int) -> None:
    assert req.int_field(req.parse(as_json({"chunk_index": value})), "chunk_index") == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc", "must be an integer"),
        ("1.5", "must be an integer"),
        (1.5, "must be an integer"),
        (2.0, "must be an integer"),
        (True, "must be an integer"),
        (False, "must be an integer"),
        ([1], "must be an integer"),
        ({"n": 1}, "must be an integer"),
        ("1e3", "must be an integer"),
        ("0x10", "must be an integer"),
        ("+5", "must be an integer"),
        ("\u0665", "must be an integer"),  # an Arabic-Indic digit: int() would take it
        ("9" * 19, "must be an integer"),
        ("9" * 5000, "must be an integer"),
        (2**31, "is out of range"),
        (str(2**31), "is out of range"),
        (-(2**31), "is out of range"),
        (10**30, "is out of range"),
    ],
    ids=[
        "letters", "decimal-text", "float", "integral-float", "true", "false", "list", "object", "exponent", "hex",
        "plus", "arabic-digit", "19-digits", "5000-digits", "2**31", "2**31-text", "-(2**31)", "10**30",
    ],
)  # fmt: skip
def test_it_refuses_what_is_not_a_small_integer(value: Any, words: str) -> None:
    parsed = req.parse(as_json({"chunk_index": value}))
    error = refused(BadRequest, req.int_field, parsed, "chunk_index")
    assert error.message.startswith(f"chunk_index {words}")
    assert len(error.message) < 120  # a huge value is not echoed whole
    assert error.detail == {"field": "chunk_index"}


def test_it_does_not_echo_a_huge_out_of_range_integer() -> None:
    parsed = req.parse(as_json('{"chunk_index": 1' + "0" * 4000 + "}"))
    error = refused(BadRequest, req.int_field, parsed, "chunk_index")
    assert error.message.startswith("chunk_index is out of range")
    assert len(error.message) < 120


def test_it_refuses_a_huge_integer_in_a_form() -> None:
    request = rf.patch(PATH, data="chunk_index=" + "9" * 5000, content_type="application/x-www-form-urlencoded")
    assert "must be an integer" in refused(BadRequest, req.int_field, req.parse(request), "chunk_index").message


def test_it_refuses_a_json_integer_too_long_to_convert() -> None:
    # Python refuses int() of more than 4300 digits; that must be a 400, not a 500.
    request = as_json('{"chunk_index": ' + "9" * 5000 + "}")
    error = refused(BadRequest, req.parse, request)
    assert error.message.startswith("malformed JSON body")


# --- text fields ----------------------------------------------------------------------------


def test_it_reads_text_fields() -> None:
    parsed = req.parse(as_json({"title": "Quarterly demo \u00e9\U0001f600", "description": ""}))
    assert req.text_field(parsed, "title") == "Quarterly demo \u00e9\U0001f600"
    assert req.text_field(parsed, "description") == ""
    assert req.text_field(parsed, "missing") == ""
    assert req.text_field(parsed, "missing", "fallback") == "fallback"


def test_it_reads_an_escaped_surrogate_pair_as_one_character() -> None:
    parsed = req.parse(as_json('{"title": "\\ud83d\\ude00"}'))
    assert req.text_field(parsed, "title") == "\U0001f600"


def test_it_uses_the_default_for_a_json_null() -> None:
    assert req.text_field(req.parse(as_json({"title": None})), "title", "untitled") == "untitled"


@pytest.mark.parametrize(
    "request_of",
    [
        lambda: as_json({"title": "a\u0000b"}),
        lambda: as_json('{"title": "a\\u0000b"}'),
        lambda: as_json('{"title": "\\ud800"}'),
        lambda: as_json('{"title": "x\\udfffy"}'),
        lambda: rf.post(PATH, data="title=a%00b", content_type="application/x-www-form-urlencoded"),
        lambda: multipart({"title": "a\x00b"}, method="post"),
    ],
    ids=["json-nul", "json-escaped-nul", "lone-high-surrogate", "lone-low-surrogate", "urlencoded-nul", "multipart-nul"],
)
def test_it_refuses_text_that_cannot_be_stored(request_of: Any) -> None:
    error = refused(BadRequest, req.text_field, req.parse(request_of()), "title")
    assert error.message == "title contains characters that cannot be stored (NUL or lone surrogates)"
    assert error.detail == {"field": "title"}


@pytest.mark.parametrize("value", [5, 1.5, True, ["a"], {"a": 1}])
def test_it_refuses_a_title_that_is_not_a_string(value: Any) -> None:
    error = refused(BadRequest, req.text_field, req.parse(as_json({"title": value})), "title")
    assert error.message == "title must be a string"
    assert error.detail == {"field": "title"}


# --- bodies that are refused ----------------------------------------------------------------


def test_it_requires_a_content_length_for_multipart() -> None:
    request = multipart({"video_id": "7", "video_chunck": upload(b"x")})
    del request.META["CONTENT_LENGTH"]
    error = refused(LengthRequired, req.parse, request)
    assert error.status == 411
    assert "Content-Length" in error.message


def test_it_refuses_a_malformed_multipart_body() -> None:
    request = rf.patch(PATH, data=b"--nope\r\n\r\n", content_type="multipart/form-data")  # no boundary
    error = refused(BadRequest, req.parse, request)
    assert error.status == 400
    assert error.message.startswith("malformed multipart body")


def test_it_takes_json_up_to_64_kib() -> None:
    padding = req.JSON_BODY_LIMIT - len(json.dumps({"title": ""}))
    text = json.dumps({"title": "x" * padding})
    assert len(text) == req.JSON_BODY_LIMIT
    assert req.text_field(req.parse(as_json(text)), "title") == "x" * padding


def test_it_refuses_json_over_64_kib() -> None:
    text = json.dumps({"title": "x" * req.JSON_BODY_LIMIT})
    error = refused(PayloadTooLarge, req.parse, as_json(text))
    assert error.status == 413
    assert error.message == f"JSON bodies may be at most {req.JSON_BODY_LIMIT} bytes"


@pytest.mark.parametrize(
    "text",
    [b"{", b'{"video_id": }', b"{'video_id': 1}", b'{"title": "\xff"}', b"[" * 60_000, b'{"a":' * 12_000],
    ids=["truncated", "missing-value", "single-quotes", "invalid-utf8", "deep-arrays", "deep-objects"],
)
def test_it_refuses_malformed_json(text: bytes) -> None:
    error = refused(BadRequest, req.parse, as_json(text))
    assert error.status == 400
    assert error.message.startswith("malformed JSON body")
    assert len(error.message) <= len("malformed JSON body: ") + 200


@pytest.mark.parametrize("text", ["[1, 2]", '"video_id"', "7", "null", "true"])
def test_it_refuses_json_that_is_not_an_object(text: str) -> None:
    assert refused(BadRequest, req.parse, as_json(text)).message == "JSON body must be an object"


def test_it_reads_an_empty_json_body_as_no_fields() -> None:
    parsed = req.parse(as_json(b""))
    assert parsed.fields == {}
    assert req.chunk_body(parsed, required=False) is None


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", ""])
def test_it_refuses_a_body_of_an_unsupported_type(ctype: str) -> None:
    request = rf.patch(PATH, data=b"video_id=7", content_type=ctype)
    error = refused(BadRequest, req.parse, request)
    assert error.message.startswith(f"unsupported Content-Type {ctype or '(none)'!r}")
    assert "application/octet-stream" in error.message


@pytest.mark.parametrize("method", ["post", "patch", "put", "get"])
def test_it_accepts_no_body_of_any_type(method: str) -> None:
    # The original extension finalizes with no body at all; the id then comes from the path or query.
    request = getattr(rf, method)(f"{PATH}?video_id=5", data=b"", content_type="text/plain")
    assert req.int_field(req.parse(request), "video_id") == 5
