// Library and watch page helpers: confirm before deleting, and live status of recordings that
// are still uploading, processing or being transcribed.
"use strict";

(() => {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  const root = document.body.dataset.root;
  const busy = [...document.querySelectorAll(".tile[data-busy='1']")];
  if (!busy.length) return;
  const label = (video) => {
    const transcript = video.transcription && video.transcription.status;
    if (video.status === "uploading") return ["uploading", "Uploading"];
    if (video.status === "assembling") return ["assembling", `Processing ${Math.round(video.progress * 100)}%`];
    if (video.status === "failed") return ["failed", `Failed: ${video.error || "unknown reason"}`];
    if (!transcript || transcript === "pending") return ["transcribing", "Ready · transcribing"];
    if (transcript === "running") return ["transcribing", `Ready · transcribing ${Math.round(video.transcription.progress * 100)}%`];
    return ["ready", transcript === "failed" ? "Ready · transcript failed" : "Ready"];
  };
  const poll = async () => {
    let waiting = false;
    for (const tile of busy) {
      if (tile.dataset.busy !== "1") continue;
      try {
        const response = await fetch(`${root}api/record/videos/${tile.dataset.videoId}`, { credentials: "same-origin" });
        if (!response.ok) continue;
        const video = await response.json();
        const [key, text] = label(video);
        const stage = tile.querySelector("[data-stage]");
        stage.textContent = text;
        stage.className = `stage stage-${key}`;
        if (key === "ready" || key === "failed") {
          tile.dataset.busy = "0";
          if (video.thumbnail_url && !tile.querySelector(".thumb img")) location.reload();
        } else {
          waiting = true;
        }
      } catch { waiting = true; }
    }
    if (waiting) setTimeout(poll, 3000);
  };
  setTimeout(poll, 3000);
})();
