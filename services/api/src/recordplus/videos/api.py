"""HTTP handlers of the videos app: parse, call one service or selector, return a schema.

Canonical paths have no trailing slash; the seed's spellings (trailing slash, /api/v1/record/)
are folded onto them by recordplus.core.middleware.legacy_paths.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from ninja import Router
from ninja.constants import NOT_SET

from recordplus.videos import requests as req
from recordplus.videos import selectors, services, streaming
from recordplus.videos.media_urls import stored_object
from recordplus.videos.schemas import ChunkOut, ErrorOut, MessageOut, UploadStatusOut, VideoCreatedOut, VideoOut

router = Router(tags=["videos"])

# Every client error is the same JSON body; listed so the OpenAPI schema documents them.
CLIENT_ERRORS = frozenset({400, 401, 404, 409, 411, 413})


@router.post("/videos", response={201: VideoCreatedOut, CLIENT_ERRORS: ErrorOut}, summary="Create a video (optionally with its first chunk)")
def create_video(request: HttpRequest):
    parsed = req.parse(request)
    first, first_size = req.chunk_body(parsed, required=False) or (None, None)
    video = services.video_create(
        auth=request.auth,
        title=req.text_field(parsed, "title"),
        description=req.text_field(parsed, "description"),
        first_chunk=first,
        first_chunk_size=first_size,
    )
    return 201, {"video_id": video.pk, "public_id": video.public_id, "status": video.status}


@router.get("/videos", response={200: list[VideoOut], CLIENT_ERRORS: ErrorOut}, summary="List your videos, newest first")
def list_videos(request: HttpRequest):
    return selectors.video_list_for_user(request.auth)


def _store_chunk(request: HttpRequest, path_video_id: int | None) -> dict:
    parsed = req.parse(request)
    video_id = req.int_field(parsed, "video_id", path_value=path_video_id, required=True)
    video = selectors.video_get_for_user(video_id, request.auth)
    body, size = req.chunk_body(parsed)
    stored = services.chunk_store(
        video=video, data=body, declared_size=size, chunk_index=req.int_field(parsed, "chunk_index")
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


@router.patch("/videos/update_video_chunck", response={200: ChunkOut, CLIENT_ERRORS: ErrorOut}, summary="Upload a chunk")
def update_video_chunk(request: HttpRequest):
    return _store_chunk(request, None)


@router.patch("/videos/{video_id}/update_video_chunck", response={200: ChunkOut, CLIENT_ERRORS: ErrorOut}, summary="Upload a chunk (id in path)")
def update_video_chunk_by_path(request: HttpRequest, video_id: int):
    return _store_chunk(request, video_id)


@router.patch("/videos/{video_id}/update_video_file", response={200: ChunkOut, CLIENT_ERRORS: ErrorOut}, include_in_schema=False)
def update_video_file_by_path(request: HttpRequest, video_id: int):
    return _store_chunk(request, video_id)


def _finalize(request: HttpRequest, path_video_id: int | None) -> dict:
    parsed = req.parse(request)
    video_id = req.int_field(parsed, "video_id", path_value=path_video_id, required=True)
    video = services.video_finalize_by_id(video_id=video_id, auth=request.auth)
    return {"message": "Transcription task initiated", "video_id": video.pk, "status": video.status}


@router.post("/videos/finalize_video_upload", response={200: MessageOut, CLIENT_ERRORS: ErrorOut}, summary="Finish the upload and start processing")
def finalize_video_upload(request: HttpRequest):
    return _finalize(request, None)


@router.post("/videos/{video_id}/finalize_video_upload", response={200: MessageOut, CLIENT_ERRORS: ErrorOut}, summary="Finish the upload (id in path)")
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
    obj, redirect = stored_object(selectors.video_get_for_user(video_id, request.auth), what)
    return HttpResponseRedirect(redirect) if redirect else streaming.serve(request, obj)


@router.get("/videos/{video_id}/stream_video", summary="Stream the video (Range supported)")
def stream_video(request: HttpRequest, video_id: int) -> HttpResponseBase:
    return _serve(request, video_id, "video")


@router.get("/videos/{video_id}/original", summary="The upload exactly as received")
def get_original(request: HttpRequest, video_id: int) -> HttpResponseBase:
    return _serve(request, video_id, "original")


@router.get("/videos/{video_id}/thumbnail", summary="The video's JPEG thumbnail")
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
