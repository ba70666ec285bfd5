// Library and watch page helpers: confirm before deleting, and live status of recordings that
// are still uploading, processing or being transcribed (updated in place: no reload to lose
// what someone is typing in the search or rename box).
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
  // The same words as the server's stage_of (web/selectors.py).
  const label = (video) => {
    const transcript = video.transcription && video.transcription.status;
    if (video.status === "uploading") return ["uploading", "Uploading"];
    if (video.status === "assembling") return ["assembling", `Processing ${Math.round(video.progress * 100)}%`];
    if (video.status === "failed") return ["failed", `Failed: ${video.error || "unknown reason"}`];
    if (!transcript || transcript === "pending") return ["transcribing", "Ready · transcribing"];
    if (transcript === "running") return ["transcribing", `Ready · transcribing ${Math.round(video.transcription.progress * 100)}%`];
    return ["ready", transcript === "failed" ? "Ready · transcript failed" : "Ready"];
  };
  // The same figure as the server's clock filter (web/templatetags/web_format.py).
  const clock = (seconds) => {
    const total = Math.floor(seconds + 0.5);
    const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = String(total % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  };
  const update = (tile, video) => {
    const [key, text] = label(video);
    const stage = tile.querySelector("[data-stage]");
    if (stage.textContent !== text) stage.textContent = text;
    stage.className = `stage stage-${key}`;
    const placeholder = tile.querySelector("[data-placeholder]");
    if (placeholder && video.thumbnail_url) {
      const img = Object.assign(document.createElement("img"), { src: `${root}api/record/videos/${video.id}/thumbnail`, alt: "" });
      placeholder.replaceWith(img);
    } else if (placeholder && placeholder.textContent !== text) {
      placeholder.textContent = text;
    }
    if (video.duration) {
      tile.querySelectorAll("[data-clock]").forEach((node) => { node.textContent = clock(video.duration); });
      tile.querySelectorAll("[data-duration]").forEach((node) => { node.hidden = false; });
    }
    return key === "ready" || key === "failed";
  };
  const poll = async () => {
    let waiting = false;
    for (const tile of busy) {
      if (tile.dataset.busy !== "1") continue;
      try {
        const response = await fetch(`${root}api/record/videos/${tile.dataset.videoId}`, { credentials: "same-origin" });
        if (response.status === 404) { tile.dataset.busy = "0"; continue; }   // deleted elsewhere
        if (!response.ok) { waiting = true; continue; }
        if (update(tile, await response.json())) tile.dataset.busy = "0";
        else waiting = true;
      } catch { waiting = true; }
    }
    if (waiting) setTimeout(poll, 3000);
  };
  setTimeout(poll, 3000);
})();
