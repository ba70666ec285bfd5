"""The web app's pages: short views that read through selectors and write through services."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from recordplus.core.errors import BadRequest
from recordplus.sharing import selectors as sharing_selectors
from recordplus.sharing import services as sharing_services
from recordplus.videos import services as video_services
from recordplus.web import media, selectors
from recordplus.web.access import html_errors, signed_in


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "web:login"


def _absolute(request: HttpRequest, path: str) -> str:
    """A URL to hand out (share links, Open Graph): on PUBLIC_URL's origin when it is set
    (behind an ingress the request's own Host may be an internal name), else the request's."""
    if settings.PUBLIC_URL:
        return "/".join(settings.PUBLIC_URL.split("/")[:3]) + path
    return request.build_absolute_uri(path)


def _watch_url(public_id: str) -> str:
    return reverse("web:watch", args=[public_id])


@signed_in
def library(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    videos = [(video, selectors.stage_of(video)) for video in selectors.library(request.viewer, query)]
    return render(request, "web/library.html", {"videos": videos, "query": query})


@signed_in
def record(request: HttpRequest) -> HttpResponse:
    return render(request, "web/record.html", {})


@signed_in
@html_errors
def watch(request: HttpRequest, public_id: str) -> HttpResponse:
    video = selectors.video_for_viewer(request.viewer, public_id)
    transcript = selectors.transcript_of(video)
    link = sharing_selectors.share_link_live_for_video(video)
    context = {
        "video": video,
        "stage": selectors.stage_of(video),
        "transcript": transcript,
        "words": selectors.transcript_words(transcript),
        "language_label": selectors.language_label(transcript),
        "share_link": link,
        "share_url": _absolute(request, reverse("web:shared", args=[link.token])) if link else "",
        "tomorrow": (timezone.localdate() + timedelta(days=1)).isoformat(),
    }
    return render(request, "web/watch.html", context)


@require_POST
@signed_in
@html_errors
def rename(request: HttpRequest, public_id: str) -> HttpResponse:
    video = selectors.video_for_viewer(request.viewer, public_id)
    video_services.video_rename(video=video, title=request.POST.get("title", ""))
    return HttpResponseRedirect(request.POST.get("back") == "watch" and _watch_url(public_id) or reverse("web:library"))


@signed_in
@html_errors
def download(request: HttpRequest, public_id: str, what: str) -> HttpResponseBase:
    return media.serve_download(request, selectors.video_for_viewer(request.viewer, public_id), what)


@require_POST
@signed_in
@html_errors
def delete(request: HttpRequest, public_id: str) -> HttpResponse:
    video_services.video_delete(video=selectors.video_for_viewer(request.viewer, public_id))
    return HttpResponseRedirect(reverse("web:library"))


def _expiry(value: str) -> datetime | None:
    """The end of the chosen day (a date from the form), in the server's time zone."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise BadRequest("choose the day the link stops working") from None
    return timezone.make_aware(datetime.combine(day, time.max))


@require_POST
@signed_in
@html_errors
def share(request: HttpRequest, public_id: str) -> HttpResponse:
    video = selectors.video_for_viewer(request.viewer, public_id)
    mode = request.POST.get("mode", "")
    if mode == "private":
        sharing_services.share_link_revoke_all(video=video)
    elif mode in ("link", "expiring"):
        expires = _expiry(request.POST.get("expires", "")) if mode == "expiring" else None
        sharing_services.share_link_create(video=video, expires_at=expires)
    else:
        raise BadRequest("choose private, link or expiring link")
    return HttpResponseRedirect(_watch_url(public_id) + "#share")


@html_errors
def shared(request: HttpRequest, token: str) -> HttpResponse:
    link = sharing_selectors.share_link_get_live(token)
    video = link.video
    transcript = selectors.transcript_of(video)
    context = {
        "video": video,
        "link": link,
        "stage": selectors.stage_of(video),
        "transcript": transcript,
        "words": selectors.transcript_words(transcript),
        "language_label": selectors.language_label(transcript),
        "page_url": _absolute(request, request.get_full_path()),
        "thumbnail_url": _absolute(request, reverse("web:shared_media", args=[token, "thumbnail"]))
        if video.thumbnail_key
        else "",
    }
    response = render(request, "web/shared.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    response["X-Robots-Tag"] = "noindex"
    return response


@html_errors
def shared_media(request: HttpRequest, token: str, what: str) -> HttpResponseBase:
    return media.serve_shared(request, sharing_selectors.share_link_get_live(token).video, what)


@html_errors
def shared_download(request: HttpRequest, token: str, what: str) -> HttpResponseBase:
    return media.serve_download(request, sharing_selectors.share_link_get_live(token).video, what)
