"""Fairness at claim time: one user's queue of videos does not hold back another user's video,
and one user never runs more than MAX_CONCURRENT_JOBS_PER_USER assemblies at once.

A single worker thread is played by a FIFO loop over the real claim (a deferred message goes to
the back of the queue, as Dramatiq's Retry puts it back on the broker); the order of claims is
read from the rows, not from any clock.
"""

from __future__ import annotations

from collections import deque

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from recordplus.core import messaging
from recordplus.videos import services
from recordplus.videos.models import Video
from recordplus.videos.records import ReadyMedia
from recordplus.videos.services import AssemblyClaim, NotYet

pytestmark = pytest.mark.django_db(transaction=True)

MEDIA = ReadyMedia(
    video_key="v.webm", content_type="video/webm", container="webm", video_codec="vp8", audio_codec="opus",
    duration=1.0, width=2, height=2, frame_rate=30.0, has_audio=False, size=10,
)


@pytest.fixture(autouse=True)
def quiet_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_assemble", lambda *a, **k: None)
    monkeypatch.setattr(messaging, "send_transcribe", lambda *a, **k: None)


def queued(owner, title: str) -> Video:  # noqa: ANN001
    """A video finalized with its declared total: ready to be claimed at once."""
    return Video.objects.create(
        owner=owner, title=title, status=Video.Status.ASSEMBLING, finalized_at=timezone.now(), declared_chunks=1
    )


def run_single_worker(messages: list[int]) -> list[int]:
    """Drain the queue one message at a time; each claimed video finishes before the next."""
    queue = deque(messages)
    steps = 0
    while queue:
        steps += 1
        assert steps < 100, "the queue never drained"
        video_id = queue.popleft()
        claim = services.video_claim_for_assembly(video_id=video_id)
        if isinstance(claim, NotYet):
            queue.append(video_id)
        elif isinstance(claim, AssemblyClaim):
            services.video_mark_ready(video_id=video_id, media=MEDIA)
    claimed = Video.objects.filter(pk__in=messages).order_by("assembly_started_at", "pk")
    return list(claimed.values_list("pk", flat=True))


def test_a_users_queue_does_not_hold_back_another_user(settings) -> None:  # noqa: ANN001
    settings.MAX_CONCURRENT_JOBS_PER_USER = 1
    users = get_user_model().objects
    alice, bob = users.create(username="alice-fair"), users.create(username="bob-fair")
    a1, a2, a3 = (queued(alice, f"a{n}") for n in range(1, 4))
    b1 = queued(bob, "b1")
    order = run_single_worker([a1.pk, a2.pk, a3.pk, b1.pk])
    assert order.index(b1.pk) < order.index(a2.pk), f"bob waited behind alice's queue: {order}"
    assert order == [a1.pk, b1.pk, a2.pk, a3.pk]
    assert all(v.status == "ready" and v.assembly_attempts == 1 for v in Video.objects.filter(pk__in=order))


def test_a_lone_user_is_never_deferred_for_fairness(settings) -> None:  # noqa: ANN001
    settings.MAX_CONCURRENT_JOBS_PER_USER = 1
    alice = get_user_model().objects.create(username="alice-alone")
    videos = [queued(alice, f"a{n}") for n in range(3)]
    for video in videos:
        assert isinstance(services.video_claim_for_assembly(video_id=video.pk), AssemblyClaim)
        services.video_mark_ready(video_id=video.pk, media=MEDIA)


def test_it_caps_a_users_concurrent_assemblies(settings) -> None:  # noqa: ANN001
    settings.MAX_CONCURRENT_JOBS_PER_USER = 2
    users = get_user_model().objects
    alice, bob = users.create(username="alice-busy"), users.create(username="bob-busy")
    a1, a2, a3 = (queued(alice, f"a{n}") for n in range(1, 4))
    assert isinstance(services.video_claim_for_assembly(video_id=a1.pk), AssemblyClaim)
    assert isinstance(services.video_claim_for_assembly(video_id=a2.pk), AssemblyClaim)
    b1 = queued(bob, "b1")
    busy = services.video_claim_for_assembly(video_id=a3.pk)
    assert isinstance(busy, NotYet) and busy.delay_seconds > 0  # two of alice's already run
    assert Video.objects.get(pk=a3.pk).assembly_attempts == 0  # a deferral is not an attempt
    assert isinstance(services.video_claim_for_assembly(video_id=b1.pk), AssemblyClaim)
    services.video_mark_ready(video_id=a1.pk, media=MEDIA)
    assert isinstance(services.video_claim_for_assembly(video_id=a3.pk), AssemblyClaim)


def test_zero_turns_fairness_off(settings) -> None:  # noqa: ANN001
    settings.MAX_CONCURRENT_JOBS_PER_USER = 0
    alice = get_user_model().objects.create(username="alice-unlimited")
    videos = [queued(alice, f"a{n}") for n in range(4)]
    assert all(isinstance(services.video_claim_for_assembly(video_id=v.pk), AssemblyClaim) for v in videos)
