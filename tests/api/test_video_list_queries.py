"""The video list is filled from the models in a fixed number of queries, whatever its length
(the transcript of each video comes with it, not one query per video)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from recordplus.accounts.auth import ANONYMOUS
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video
from recordplus.videos.schemas import VideoOut
from recordplus.videos.selectors import video_list_for_user


def _listed(request) -> list[dict]:  # noqa: ANN001
    return [VideoOut.model_validate(v, context={"request": request}).model_dump() for v in video_list_for_user(ANONYMOUS)]


@pytest.mark.django_db
def test_it_lists_with_their_transcripts_in_one_query(django_assert_num_queries) -> None:  # noqa: ANN001
    for number in range(12):
        video = Video.objects.create(title=f"v{number}", status=Video.Status.READY, thumbnail_key="t.jpg")
        if number % 2:
            Transcript.objects.create(video=video, status=Transcript.Status.DONE, text=f"said {number}")
    request = RequestFactory().get("/api/record/videos")
    with django_assert_num_queries(1):
        listed = _listed(request)
    assert [v["title"] for v in listed] == [f"v{n}" for n in reversed(range(12))]
    by_title = {v["title"]: v for v in listed}
    assert by_title["v3"]["transcription"]["text"] == "said 3"
    assert by_title["v2"]["transcription"] is None
    assert by_title["v3"]["video_file"] == f"http://testserver/api/record/videos/{Video.objects.get(title='v3').pk}/stream_video/"
    assert by_title["v3"]["thumbnail_url"].endswith("/thumbnail")


@pytest.mark.django_db
def test_it_gives_no_stream_url_before_ready() -> None:
    Video.objects.create(title="uploading")
    [listed] = _listed(RequestFactory().get("/"))
    assert listed["video_file"] is None and listed["thumbnail_url"] is None and listed["transcription"] is None
