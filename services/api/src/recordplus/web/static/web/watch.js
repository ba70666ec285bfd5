// The watch and shared pages: a transcript whose current word follows the player, a click on a
// word seeks there, search within the transcript, copy buttons, and a processing state that
// refreshes the page once the video (and its transcript) are ready.
"use strict";

(() => {
  const player = document.getElementById("player");
  const data = document.getElementById("words-data");
  const holder = document.getElementById("words");
  const words = data ? JSON.parse(data.textContent) : [];
  const buttons = [];
  let current = -1;

  if (holder) {
    const fragment = document.createDocumentFragment();
    words.forEach((word, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "word";
      button.textContent = word.w;
      button.dataset.start = String(word.s);
      button.dataset.index = String(i);
      button.title = `Play from ${word.s.toFixed(1)} s`;
      fragment.append(button, " ");
      buttons.push(button);
    });
    holder.append(fragment);
    holder.addEventListener("click", (event) => {
      const button = event.target.closest("button.word");
      if (!button || !player) return;
      player.currentTime = Number(button.dataset.start);
      player.play().catch(() => {});
    });
  }

  // The last word that has started by time t (words are in order): a binary search.
  function wordAt(t) {
    let lo = 0, hi = words.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (words[mid].s <= t) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function highlight() {
    if (!player || !buttons.length) return;
    const next = wordAt(player.currentTime);
    if (next === current) return;
    if (current >= 0) { buttons[current].classList.remove("current"); buttons[current].removeAttribute("aria-current"); }
    current = next;
    if (current >= 0) {
      const button = buttons[current];
      button.classList.add("current");
      button.setAttribute("aria-current", "true");
      const box = holder.getBoundingClientRect(), at = button.getBoundingClientRect();
      if (at.top < box.top || at.bottom > box.bottom) holder.scrollTop += at.top - box.top - box.height / 3;
    }
  }

  if (player) {
    let frame = 0;
    const follow = () => { highlight(); frame = player.paused ? 0 : requestAnimationFrame(follow); };
    player.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(follow); });
    player.addEventListener("seeked", highlight);
    player.addEventListener("timeupdate", highlight);
  }

  // Search within the transcript: mark the hits, Enter plays from the next one.
  const search = document.getElementById("transcript-q");
  const hits = document.getElementById("transcript-hits");
  let found = [], at = -1;
  if (search) {
    search.addEventListener("input", () => {
      const terms = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      found = [];
      at = -1;
      buttons.forEach((button, i) => {
        const text = button.textContent.toLowerCase().replace(/[^\p{L}\p{N}']/gu, "");
        const hit = terms.length > 0 && terms.some((term) => text.includes(term.replace(/[^\p{L}\p{N}']/gu, "")));
        button.classList.toggle("hit", hit);
        if (hit) found.push(i);
      });
      hits.textContent = terms.length ? `${found.length} match${found.length === 1 ? "" : "es"}${found.length ? " · Enter plays the next" : ""}` : "";
    });
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !found.length) return;
      event.preventDefault();
      at = (at + 1) % found.length;
      const button = buttons[found[at]];
      button.scrollIntoView({ block: "nearest" });
      if (player) player.currentTime = words[found[at]].s;
    });
  }

  // Copy buttons: the page's link, or the share link field.
  async function copy(text, status) {
    try {
      await navigator.clipboard.writeText(text);
      if (status) status.textContent = "Link copied";
    } catch {
      if (status) status.textContent = text;   // no clipboard access: show it to copy by hand
    }
  }
  const copyLink = document.getElementById("copy-link");
  if (copyLink) {
    copyLink.addEventListener("click", () => copy(copyLink.dataset.url || location.href, document.getElementById("copy-done")));
  }
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const field = document.querySelector(button.dataset.copy);
      field.select();
      copy(field.value, null).then(() => { button.textContent = "Copied"; });
    });
  });

  // Still processing: ask the API until the video settles, then show it.
  const root = document.getElementById("watch-root");
  if (root && root.dataset.busy === "1" && root.dataset.statusUrl) {
    const poll = async () => {
      try {
        const response = await fetch(root.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
        if (response.ok) {
          const video = await response.json();
          const transcript = video.transcription && video.transcription.status;
          const settled = video.status === "failed" || (video.status === "ready" && (transcript === "done" || transcript === "failed"));
          const playable = video.status === "ready" && !player;
          if (settled || playable) { location.reload(); return; }
        }
      } catch { /* offline for a moment: try again */ }
      setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }
})();
