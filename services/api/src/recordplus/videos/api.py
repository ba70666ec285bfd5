"""HTTP handlers of the videos app: parse, call one service or selector, return a schema.

Canonical paths have no trailing slash; the seed's spellings (trailing slash, /api/v1/record/)
are folded onto them by recordplus.core.middleware.legacy_paths.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from ninja import Router
from ninja.constants import NOT_SET

from recordplus.videos import requests as req
from recordplus.videos import media_links, selectors, services, streaming
from recordplus.videos.media_urls import stored_object
from recordplus.videos.schemas import ChunkOut, ErrorOut, MessageOut, UploadStatusOut, VideoCreatedOut, VideoOut

router = Router(tags=["videos"])

# Every client error is the same JSON body; listed so the OpenAPI schema documents them.
CLIENT_ERRORS = frozenset({400, 401, 403, 404, 409, 410, 411, 413, 429})

# The handlers read requests themselves (videos.requests accepts every spelling clients send),
# so Ninja sees no body parameters. What they accept is documented here, through openapi_extra
# only, for /api/docs and generated clients; nothing here changes what is parsed.
_FILE = {"type": "string", "format": "binary"}
_RAW_TYPES = ("application/octet-stream", "video/webm", "video/mp4", "video/x-msvideo")
_ALIAS = "The chunk's bytes under another accepted name (send one file field only)."
_CHUNK_FILES = {
    "video_chunck": {**_FILE, "description": "The chunk's bytes (the seed's spelling)."},
    "video_chunk": {**_FILE, "description": _ALIAS},
    "video_file": {**_FILE, "description": _ALIAS},
    "chunk": {**_FILE, "description": _ALIAS},
    "file": {**_FILE, "description": _ALIAS},
}
_CHUNK_INDEX = {
    "type": "integer",
    "minimum": 0,
    "description": (
        "0-based position of the chunk (below MAX_CHUNKS). Recommended: without it the order is recovered "
        "from the container's own structure. The same index with the same bytes again is a no-op; "
        "with different bytes, 409."
    ),
}
_VIDEO_ID = {"type": "integer", "description": "The video's id; here, in the query string or in the path."}
_PATH_VIDEO_ID = {"type": "integer", "description": "Optional; when sent, it must equal the id in the path."}
_TITLE = {"type": "string", "maxLength": 255, "description": "Required, not blank, at most 255 characters."}
_DESCRIPTION = {
    "type": "string",
    "maxLength": req.DESCRIPTION_MAX_CHARS,
    "description": f"Free text, at most {req.DESCRIPTION_MAX_CHARS} characters (400 beyond); empty when left out.",
}
_RAW_CONTENT = {kind: {"schema": _FILE} for kind in _RAW_TYPES}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}


def _form(title: str, properties: dict, required: tuple[str, ...] = ()) -> dict:
    schema: dict = {"title": title, "type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {"schema": schema}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"in": "query", "name": name, "required": False, "schema": schema, "description": description}


_CREATE_DOCS = {
    "requestBody": {
        "required": False,
        "description": (
            "Title and description, optionally with the first chunk (index 0) as the file `video_file`. "
            "A raw body (application/octet-stream or video/*) is the first chunk itself, with title and "
            "description in the query string."
        ),
        "content": {
            "multipart/form-data": _form(
                "VideoCreateForm",
                {
                    "title": _TITLE,
                    "description": _DESCRIPTION,
                    "video_file": {**_FILE, "description": "The first chunk (index 0), optional."},
                    **{name: field for name, field in _CHUNK_FILES.items() if name != "video_file"},
                },
                ("title",),
            ),
            "application/x-www-form-urlencoded": _form(
                "VideoCreateUrlencoded", {"title": _TITLE, "description": _DESCRIPTION}, ("title",)
            ),
            "application/json": _form("VideoCreateJson", {"title": _TITLE, "description": _DESCRIPTION}, ("title",)),
            **_RAW_CONTENT,
        },
    },
    "parameters": [
        _query("title", {"type": "string", "maxLength": 255}, "The title, when the body is a raw first chunk."),
        _query("description", {"type": "string", "maxLength": req.DESCRIPTION_MAX_CHARS}, "The description, when the body is a raw first chunk."),
    ],
}


def _chunk_docs(*, by_path: bool) -> dict:
    video_id = _PATH_VIDEO_ID if by_path else _VIDEO_ID
    multipart = _form(
        "ChunkByPathForm" if by_path else "ChunkForm",
        {"video_id": video_id, "chunk_index": _CHUNK_INDEX, "last": _LAST, **_CHUNK_FILES},
    )
    parameters = [
        _query("chunk_index", _CHUNK_INDEX, "The chunk's index, for raw bodies (or any body)."),
        _query("last", _LAST, "true on the final chunk: declares the total (chunk_index + 1)."),
    ]
    if not by_path:
        parameters.insert(0, _query("video_id", {"type": "integer"}, "The video's id, for raw bodies (or any body)."))
    return {
        "requestBody": {
            "required": True,
            "description": (
                "The chunk, either as a multipart file (named video_chunck, video_chunk, video_file, chunk or file) "
                "with its fields, or as the raw body (application/octet-stream or video/*) with the fields in "
                "the query string. At most MAX_CHUNK_BYTES per chunk (413)."
            ),
            "content": {"multipart/form-data": multipart, **_RAW_CONTENT},
        },
        "parameters": parameters,
    }


_LAST = {
    "type": "boolean",
    "description": (
        "true on the final chunk (needs chunk_index): declares the total, chunk_index + 1, so assembly starts "
        "as soon as finalize finds every index below it, without the settle window."
    ),
}
_CHUNK_COUNT = {
    "type": "integer",
    "minimum": 1,
    "description": (
        "Optional: how many chunks the upload has (indexes 0..chunk_count-1). When all are there, assembly starts "
        "at once (no settle window); missing ones are waited for up to FINALIZE_SETTLE_SECONDS, then 409 names "
        "them (the upload stays open); chunks beyond the total are a 409."
    ),
}


def _finalize_docs(*, by_path: bool) -> dict:
    video_id = {"video_id": _PATH_VIDEO_ID if by_path else _VIDEO_ID, "chunk_count": _CHUNK_COUNT}
    name = "FinalizeByPath" if by_path else "Finalize"
    docs: dict = {
        "requestBody": {
            "required": False,
            "description": "No body is needed when the id is in the path or the query string.",
            "content": {
                "multipart/form-data": _form(f"{name}Form", video_id),
                "application/x-www-form-urlencoded": _form(f"{name}Urlencoded", video_id),
                "application/json": _form(f"{name}Json", video_id),
            },
        }
    }
    if not by_path:
        docs["parameters"] = [_query("video_id", {"type": "integer"}, "The video's id, if not in the body.")]
    docs.setdefault("parameters", []).append(_query("chunk_count", _CHUNK_COUNT, "The declared total, if not in the body."))
    return docs


_SIGNED_PARAMETERS = [
    _query(
        "expires",
        {"type": "integer"},
        "With `sig`: a signed URL from the video's `signed_urls` (no token needed) — the unix second it stops working.",
    ),
    _query("sig", {"type": "string"}, "With `expires`: the URL's signature (403 when altered, for another file, or expired)."),
]


def _media_docs(media_types: tuple[str, ...]) -> dict:
    content = {kind: {"schema": _FILE} for kind in media_types}
    return {
        "parameters": [
            {
                "in": "header",
                "name": "Range",
                "required": False,
                "schema": {"type": "string", "example": "bytes=0-1023"},
                "description": "RFC 9110 byte range; If-Range and If-None-Match (ETag) are honoured too.",
            },
            *_SIGNED_PARAMETERS,
        ],
        "responses": {
            "200": {"description": "The whole file", "content": content},
            "206": {"description": "The requested range", "content": content},
            "304": {"description": "Not modified (If-None-Match)"},
            "302": {"description": "Cluster mode: a short-lived presigned storage URL (Location)"},
            "403": {"description": "A signed URL that is altered, for another file, or expired", "content": _ERROR},
            "404": {"description": "No such video (or not yours)", "content": _ERROR},
            "409": {"description": "Not ready yet", "content": _ERROR},
            "416": {"description": "The range cannot be satisfied", "content": _ERROR},
        },
    }


_VIDEO_TYPES = ("video/webm", "video/mp4")


@router.post(
    "/videos",
    response={201: VideoCreatedOut, CLIENT_ERRORS: ErrorOut},
    summary="Create a video (optionally with its first chunk)",
    openapi_extra=_CREATE_DOCS,
)
def create_video(request: HttpRequest):
    parsed = req.parse(request)
    first, first_size = req.chunk_body(parsed, required=False) or (None, None)
    video = services.video_create(
        auth=request.auth,
        title=req.text_field(parsed, "title"),
        description=req.text_field(parsed, "description", max_length=req.DESCRIPTION_MAX_CHARS),
        first_chunk=first,
        first_chunk_size=first_size,
        first_chunk_field=req.chunk_field(parsed),
    )
    return 201, {"video_id": video.pk, "public_id": video.public_id, "status": video.status}


_LIST_DOCS = {
    "parameters": [
        _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": req.LIST_LIMIT_MAX, "default": req.LIST_LIMIT_DEFAULT},
            f"Videos per page: {req.LIST_LIMIT_DEFAULT} by default, at most {req.LIST_LIMIT_MAX}.",
        ),
        _query(
            "cursor",
            {"type": "string"},
            "Where the page starts: the X-Next-Cursor header of the previous page (opaque). Absent: the newest videos.",
        ),
    ],
    "responses": {
        200: {  # an int, as Ninja keys its own responses: merged into the documented list schema
            "description": (
                "One page, newest first, as a plain list. When there are more, the headers give the next page: "
                "`X-Next-Cursor` (pass it as `cursor`) and `Link: <…>; rel=\"next\"`."
            ),
            "headers": {
                "X-Next-Cursor": {"description": "The `cursor` of the next page; absent on the last.", "schema": {"type": "string"}},
                "Link": {"description": "RFC 8288: the next page's URL with rel=\"next\".", "schema": {"type": "string"}},
            },
        }
    },
}


def _next_page_url(request: HttpRequest, limit: int, cursor: str) -> str:
    return request.build_absolute_uri(f"{request.path}?{urlencode({'limit': limit, 'cursor': cursor})}")


@router.get(
    "/videos",
    response={200: list[VideoOut], CLIENT_ERRORS: ErrorOut},
    summary="List your videos, newest first, a page at a time",
    openapi_extra=_LIST_DOCS,
)
def list_videos(request: HttpRequest, response: HttpResponse):
    limit = req.list_limit(request)
    page = selectors.video_page_for_user(request.auth, limit=limit, cursor=request.GET.get("cursor"))
    if page.next_cursor:
        response["X-Next-Cursor"] = page.next_cursor
        response["Link"] = f'<{_next_page_url(request, limit, page.next_cursor)}>; rel="next"'
    return page.videos


def _store_chunk(request: HttpRequest, path_video_id: int | None) -> dict:
    parsed = req.parse(request)
    video_id = req.int_field(parsed, "video_id", path_value=path_video_id, required=True)
    video = selectors.video_get_for_user(video_id, request.auth)
    body, size = req.chunk_body(parsed)
    stored = services.chunk_store(
        video=video,
        data=body,
        declared_size=size,
        chunk_index=req.int_field(parsed, "chunk_index"),
        last=req.bool_field(parsed, "last"),
        field=req.chunk_field(parsed),
    )
    chunk = stored.chunk
    return {
        "message": "Chunk uploaded successfully",
        "video_id": video.pk,
        "chunk_index": chunk.index,
        "size": chunk.size,
        "checksum": chunk.checksum,
        "duplicate": not stored.created,
    }


@router.patch(
    "/videos/update_video_chunck",
    response={200: ChunkOut, CLIENT_ERRORS: ErrorOut},
    summary="Upload a chunk",
    openapi_extra=_chunk_docs(by_path=False),
)
def update_video_chunk(request: HttpRequest):
    return _store_chunk(request, None)


@router.patch(
    "/videos/{video_id}/update_video_chunck",
    response={200: ChunkOut, CLIENT_ERRORS: ErrorOut},
    summary="Upload a chunk (id in path)",
    openapi_extra=_chunk_docs(by_path=True),
)
def update_video_chunk_by_path(request: HttpRequest, video_id: int):
    return _store_chunk(request, video_id)


@router.patch("/videos/{video_id}/update_video_file", response={200: ChunkOut, CLIENT_ERRORS: ErrorOut}, include_in_schema=False)
def update_video_file_by_path(request: HttpRequest, video_id: int):
    return _store_chunk(request, video_id)


def _finalize(request: HttpRequest, path_video_id: int | None) -> dict:
    parsed = req.parse(request)
    video_id = req.int_field(parsed, "video_id", path_value=path_video_id, required=True)
    video = services.video_finalize_by_id(
        video_id=video_id, auth=request.auth, chunk_count=req.int_field(parsed, "chunk_count")
    )
    return {"message": "Transcription task initiated", "video_id": video.pk, "status": video.status}


@router.post(
    "/videos/finalize_video_upload",
    response={200: MessageOut, CLIENT_ERRORS: ErrorOut},
    summary="Finish the upload and start processing",
    openapi_extra=_finalize_docs(by_path=False),
)
def finalize_video_upload(request: HttpRequest):
    return _finalize(request, None)


@router.post(
    "/videos/{video_id}/finalize_video_upload",
    response={200: MessageOut, CLIENT_ERRORS: ErrorOut},
    summary="Finish the upload (id in path)",
    openapi_extra=_finalize_docs(by_path=True),
)
def finalize_video_upload_by_path(request: HttpRequest, video_id: int):
    return _finalize(request, video_id)


@router.get("/videos/{video_id}", response={200: VideoOut, CLIENT_ERRORS: ErrorOut}, summary="One video with status, media facts and transcription")
def get_video(request: HttpRequest, video_id: int):
    return selectors.video_get_for_user(video_id, request.auth)


@router.delete(
    "/videos/{video_id}", response={204: None, CLIENT_ERRORS: ErrorOut}, summary="Delete the video and everything stored for it"
)
def delete_video(request: HttpRequest, video_id: int):
    services.video_delete(video=selectors.video_get_for_user(video_id, request.auth))
    return 204, None


@router.get("/videos/{video_id}/upload", response={200: UploadStatusOut, CLIENT_ERRORS: ErrorOut}, summary="Received chunks, to resume an upload")
def get_upload_status(request: HttpRequest, video_id: int):
    return selectors.upload_status(selectors.video_get_for_user(video_id, request.auth))


def _serve(request: HttpRequest, video_id: int, what: str) -> HttpResponseBase:
    obj, redirect = stored_object(media_links.video_for(request.auth, video_id, what), what)
    return HttpResponseRedirect(redirect) if redirect else streaming.serve(request, obj)


@router.get(
    "/videos/{video_id}/stream_video",
    summary="Stream the video (Range supported)",
    openapi_extra=_media_docs(_VIDEO_TYPES),
)
def stream_video(request: HttpRequest, video_id: int) -> HttpResponseBase:
    return _serve(request, video_id, "video")


@router.get(
    "/videos/{video_id}/original",
    summary="The upload exactly as received",
    openapi_extra=_media_docs(("application/octet-stream",)),
)
def get_original(request: HttpRequest, video_id: int) -> HttpResponseBase:
    return _serve(request, video_id, "original")


@router.get(
    "/videos/{video_id}/thumbnail",
    summary="The video's JPEG thumbnail",
    openapi_extra=_media_docs(("image/jpeg",)),
)
def get_thumbnail(request: HttpRequest, video_id: int) -> HttpResponseBase:
    return _serve(request, video_id, "thumbnail")


# The same handlers under the other methods clients use: HEAD wherever GET works (RFC 9110),
# POST and PUT besides PATCH for chunks. Left out of the schema so each operation id is unique.
_ALIASES = [
    ("/videos", ["HEAD"], list_videos, {200: list[VideoOut], CLIENT_ERRORS: ErrorOut}),
    ("/videos/update_video_chunck", ["POST", "PUT"], update_video_chunk, {200: ChunkOut, CLIENT_ERRORS: ErrorOut}),
    ("/videos/{video_id}/update_video_chunck", ["POST", "PUT"], update_video_chunk_by_path, {200: ChunkOut, CLIENT_ERRORS: ErrorOut}),
    ("/videos/{video_id}/update_video_file", ["POST", "PUT"], update_video_file_by_path, {200: ChunkOut, CLIENT_ERRORS: ErrorOut}),
    ("/videos/{video_id}", ["HEAD"], get_video, {200: VideoOut, CLIENT_ERRORS: ErrorOut}),
    ("/videos/{video_id}/upload", ["HEAD"], get_upload_status, {200: UploadStatusOut, CLIENT_ERRORS: ErrorOut}),
    ("/videos/{video_id}/stream_video", ["HEAD"], stream_video, None),
    ("/videos/{video_id}/original", ["HEAD"], get_original, None),
    ("/videos/{video_id}/thumbnail", ["HEAD"], get_thumbnail, None),
]
for _path, _methods, _view, _response in _ALIASES:
    router.add_api_operation(
        _path, _methods, _view, response=_response if _response is not None else NOT_SET, include_in_schema=False
    )
