"""Assemble one video: claim → concatenate its chunks → make it playable → mark it ready.

Idempotent: run twice, or again after a crash half-way, it converges to the same objects.
Every row change goes through the owning app's services (`videos.services`,
`transcripts.services`); objects go through the `ObjectStore`. The retry rule is core.jobs'.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction

from recordplus.assembler import media
from recordplus.assembler.ordering import order_pieces
from recordplus.core import jobs, metrics
from recordplus.core.errors import MediaRejected
from recordplus.core.storage import Piece, get_store, keys
from recordplus.core.tempdirs import make_workdir
from recordplus.transcripts import live_services
from recordplus.transcripts.services import transcript_request
from recordplus.videos import selectors, services
from recordplus.core.storage import ObjectStore
from recordplus.transcripts.models import LiveTranscript
from recordplus.videos.models import Chunk, Video
from recordplus.videos.services import NotYet

logger = logging.getLogger(__name__)


def assemble(video_id: int) -> NotYet | None:
    """Run the assembly of video `video_id`; NotYet when its settle window is still open."""
    claim = services.video_claim_for_assembly(video_id=video_id)
    if isinstance(claim, NotYet):
        return claim
    if claim is None:
        video = selectors.video_by_id(video_id)
        if video is not None and video.status == Video.Status.READY:
            services.video_cleanup_after_ready(video=video)  # a crash after `ready` may have left chunks
        return None
    video = claim.video
    with services.video_assembly_run(claim):  # the lease's heartbeat; clean-up if deleted meanwhile
        jobs.run_attempt(
            lambda: _assemble(video),
            stage="assemble",
            attempt=claim.attempt,
            max_attempts=settings.ASSEMBLE_MAX_ATTEMPTS,
            fail=lambda reason: services.video_mark_failed(video_id=video.pk, reason=reason),
        )
    return None


class _ProgressRows:
    """Writes the assembly's progress to the video's row when it moved by 2 % or half a second
    passed: a stitch of 600 one-second pieces reports after every piece, and a commit per
    piece (SQLite: an fsync each) made stop → ready wait seconds on a busy machine."""

    STEP = 0.02
    SECONDS = 0.5

    def __init__(self, video_id: int) -> None:
        self.video_id = video_id
        self.last = -1.0
        self.at = 0.0

    def __call__(self, fraction: float) -> None:
        now = time.monotonic()
        if fraction < 1.0 and fraction - self.last < self.STEP and now - self.at < self.SECONDS:
            return
        self.last, self.at = fraction, now
        services.video_set_progress(video_id=self.video_id, fraction=fraction)


def _decoded_live(video_id: int) -> bool:
    """Whether a live transcription follows this video: its audio was decoded as the chunks
    arrived, so assembly need not decode it again for the transcriber."""
    live = live_services.live_get(video_id=video_id)
    return live is not None and live.status in (LiveTranscript.Status.ACTIVE, LiveTranscript.Status.ENDED)


def _container_order(store: ObjectStore, chunks: list[Chunk], workdir: Path) -> list[Chunk]:
    """The chunks in the byte order their container proves (some came without chunk_index, so
    their arrival order means nothing); pieces with a declared index keep that position."""
    folder = workdir / "pieces"
    folder.mkdir()
    paths = []
    for number, chunk in enumerate(chunks):
        path = folder / f"{number}.part"
        store.download(chunk.key, path)
        paths.append(path)
    names = [f"piece {c.index} ({c.size} bytes{'' if c.indexed else ', sent without chunk_index'})" for c in chunks]
    pinned = {number: chunk.index for number, chunk in enumerate(chunks) if chunk.indexed}
    order = order_pieces(paths, names=names, pinned=pinned)
    logger.info("video %s: chunk order recovered from the container: %s", chunks[0].video_id, [chunks[i].index for i in order])
    return [chunks[i] for i in order]


def _assemble(video: Video) -> None:
    started = time.monotonic()
    store = get_store()
    chunks = selectors.chunks_for_assembly(video)
    gaps = selectors.missing_indexes([c.index for c in chunks])
    if not chunks or gaps:
        raise MediaRejected(f"cannot assemble: chunks missing {gaps or 'all'}")

    report = _ProgressRows(video.pk)

    # Named with this process's id, so a sweep at start removes it if this process is killed.
    workdir = make_workdir("recordplus-assemble-", label=str(video.pk))
    try:
        if not all(chunk.indexed for chunk in chunks):
            chunks = _container_order(store, chunks, workdir)
        source_key = keys.source(video.public_id)
        stitched = store.concat([Piece(key=c.key, size=c.size) for c in chunks], source_key, lambda f: report(0.5 * f))
        logger.info(
            "video %s stitched (%s): %s bytes, %s copied parts, %s buffered parts",
            video.pk, store.kind, stitched.size, stitched.copied_parts, stitched.buffered_parts,
        )  # fmt: skip
        metrics.ASSEMBLED_BYTES.inc(stitched.size)
        services.video_mark_stitched(video_id=video.pk, source_key=source_key, size=stitched.size)
        report(0.5)
        ready = media.make_playable(
            store=store,
            public_id=video.public_id,
            workdir=workdir / "media",
            progress=lambda f: report(0.5 + 0.5 * f),
            audio=not _decoded_live(video.pk),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    with transaction.atomic():  # ready and "transcript requested" land together or not at all
        services.video_mark_ready(video_id=video.pk, media=ready)
        transcript_request(video_id=video.pk)
    services.video_cleanup_after_ready(video=video)
    metrics.ASSEMBLY_DURATION.observe(time.monotonic() - started)
    logger.info("video %s ready in %.2fs", video.pk, time.monotonic() - started)
