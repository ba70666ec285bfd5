"""Reading what the many clients in the wild send: fields from multipart forms, url-encoded
forms, JSON bodies, the query string or the path; chunk bytes as a multipart file under any of
its historical names, or as a raw application/octet-stream body."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import IO, Any

from django.http import HttpRequest, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict

from recordplus.core.errors import BadRequest, LengthRequired, PayloadTooLarge

CHUNK_FIELDS = ("video_chunck", "video_chunk", "video_file", "chunk", "file")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
JSON_BODY_LIMIT = 64 * 1024  # JSON carries ids and titles, never chunk bytes
_INTEGER = re.compile(r"-?[0-9]{1,18}")
# A description is free text, not a file: bounded so one video cannot hold megabytes of it and a
# list of videos stays small (GET videos returns them).
DESCRIPTION_MAX_CHARS = 5000
# GET videos: how many videos one page holds by default, and at most.
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 200


@dataclass
class Parsed:
    fields: dict[str, Any]
    files: MultiValueDict
    raw: IO[bytes] | None
    raw_size: int | None


def _content_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def _load_form(request: HttpRequest) -> tuple[QueryDict, MultiValueDict]:
    # Django only parses form bodies for POST; the seed's clients send chunks with PATCH.
    method = request.method
    try:
        if method != "POST":
            request.method = "POST"
            request._load_post_and_files()  # noqa: SLF001 - the documented way to reuse Django's parser
        return request.POST, request.FILES
    except MultiPartParserError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    finally:
        request.method = method


def parse(request: HttpRequest) -> Parsed:
    """Collect fields from query, form or JSON body (body wins), and the uploaded files."""
    fields: dict[str, Any] = {key: request.GET.get(key) for key in request.GET}
    files: MultiValueDict = MultiValueDict()
    raw: IO[bytes] | None = None
    raw_size: int | None = None
    ctype = _content_type(request)
    if ctype in FORM_TYPES:
        if ctype == "multipart/form-data" and not request.headers.get("Content-Length"):
            # Django parses a multipart body only when its length is declared.
            raise LengthRequired("multipart bodies need a Content-Length header (chunked transfer is not supported)")
        form, files = _load_form(request)
        fields.update({key: form.get(key) for key in form})
    elif ctype == "application/json":
        raw_json = request.read(JSON_BODY_LIMIT + 1)
        if len(raw_json) > JSON_BODY_LIMIT:
            raise PayloadTooLarge(f"JSON bodies may be at most {JSON_BODY_LIMIT} bytes")
        try:
            body = json.loads(raw_json or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise BadRequest(f"malformed JSON body: {str(exc)[:200]}") from None
        if not isinstance(body, dict):
            raise BadRequest("JSON body must be an object")
        fields.update(body)
    elif ctype in ("application/octet-stream", "video/webm", "video/mp4", "video/x-msvideo", "video/avi"):
        length = request.headers.get("Content-Length")
        raw_size = int(length) if length and length.isdigit() else None
        raw = request  # HttpRequest is file-like: read() streams the body
    elif request.method in ("POST", "PATCH", "PUT") and request.headers.get("Content-Length", "0") not in ("", "0"):
        raise BadRequest(
            f"unsupported Content-Type {ctype or '(none)'!r}; send multipart/form-data, "
            "application/x-www-form-urlencoded, application/json or application/octet-stream"
        )
    return Parsed(fields=fields, files=files, raw=raw, raw_size=raw_size)


def int_field(parsed: Parsed, name: str, *, path_value: int | None = None, required: bool = False) -> int | None:
    """An integer field from the path or the request; 400 when present but not an integer."""
    if path_value is not None:
        body_value = parsed.fields.get(name)
        if body_value not in (None, "") and str(body_value) != str(path_value):
            raise BadRequest(f"{name} in the path ({path_value}) and in the body ({body_value}) differ", {"field": name})
        return path_value
    value = parsed.fields.get(name)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{name} is required", {"field": name})
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or _INTEGER.fullmatch(str(value).strip())):
        raise BadRequest(f"{name} must be an integer, got {str(value)[:40]!r}", {"field": name})
    number = int(str(value).strip())
    if not -(2**31) < number < 2**31:
        raise BadRequest(f"{name} is out of range: {str(number)[:40]}", {"field": name})
    return number


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def bool_field(parsed: Parsed, name: str) -> bool:
    """A boolean field (true/false, 1/0, yes/no, on/off, or a JSON boolean); 400 otherwise."""
    value = parsed.fields.get(name)
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest(f"{name} must be true or false, got {str(value)[:40]!r}", {"field": name})


def text_field(parsed: Parsed, name: str, default: str = "", *, max_length: int | None = None) -> str:
    """A text field; 400 when it is not a string, holds characters no database stores, or is
    longer than `max_length` characters."""
    value = parsed.fields.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string", {"field": name})
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise BadRequest(f"{name} contains characters that cannot be stored (NUL or lone surrogates)", {"field": name})
    if max_length is not None and len(value) > max_length:
        raise BadRequest(
            f"{name} is {len(value)} characters; at most {max_length} are allowed",
            {"field": name, "max_length": max_length},
        )
    return value


def list_limit(request: HttpRequest) -> int:
    """`limit` of a list call: LIST_LIMIT_DEFAULT when absent; 400 unless 1 to LIST_LIMIT_MAX."""
    raw = request.GET.get("limit")
    if raw is None or raw == "":
        return LIST_LIMIT_DEFAULT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= LIST_LIMIT_MAX):
        raise BadRequest(
            f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}, got {raw[:40]!r}",
            {"field": "limit", "maximum": LIST_LIMIT_MAX},
        )
    return int(raw)


RAW_BODY_FIELD = "body"  # how errors name a chunk sent as the raw request body


def chunk_field(parsed: Parsed) -> str:
    """The name the client sent the chunk under (the first of CHUNK_FIELDS present, as
    `chunk_body` reads it), so an error about the chunk names what the client actually sent."""
    for name in CHUNK_FIELDS:
        if parsed.files.get(name) is not None:
            return name
    return RAW_BODY_FIELD if parsed.raw is not None else CHUNK_FIELDS[0]


def chunk_body(parsed: Parsed, *, required: bool = True) -> tuple[IO[bytes], int | None] | None:
    """The chunk's bytes and declared size, from any accepted field name or a raw body."""
    for name in CHUNK_FIELDS:
        upload = parsed.files.get(name)
        if upload is not None:
            return upload, upload.size
    if parsed.raw is not None:
        return parsed.raw, parsed.raw_size
    for name in CHUNK_FIELDS:
        if parsed.fields.get(name):
            raise BadRequest(f"{name} must be sent as a file (multipart) or as a raw body", {"field": name})
    if required:
        raise BadRequest(
            "no chunk in the request: send the bytes as a multipart file named video_chunck "
            "(or video_chunk / video_file), or as an application/octet-stream body",
            {"field": "video_chunck"},
        )
    return None


