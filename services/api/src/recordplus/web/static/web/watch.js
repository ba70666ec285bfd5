// The watch and shared pages: a transcript whose current word follows the player, a click on a
// word (or Enter on it) seeks there, search within the transcript, a captions button, copy
// buttons, and a processing state that refreshes the page once the video (and its transcript)
// are ready. The transcript is one stop for Tab (a roving tabindex: the arrow keys, Home and End
// move between words), so the controls after it stay a keystroke away.
"use strict";

(() => {
  const player = document.getElementById("player");
  const data = document.getElementById("words-data");
  const holder = document.getElementById("words");
  const words = data ? JSON.parse(data.textContent) : [];
  const buttons = [];
  let current = -1;
  let anchor = 0;              // the word Tab lands on: the one playing, or the last one chosen

  function setAnchor(i) {
    if (!buttons.length || i === anchor) return;
    buttons[anchor].tabIndex = -1;
    anchor = i;
    buttons[anchor].tabIndex = 0;
  }

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
      button.tabIndex = i === 0 ? 0 : -1;
      fragment.append(button, " ");
      buttons.push(button);
    });
    holder.append(fragment);
    holder.addEventListener("click", (event) => {
      const button = event.target.closest("button.word");
      if (!button || !player) return;
      setAnchor(Number(button.dataset.index));
      player.currentTime = Number(button.dataset.start);
      player.play().catch(() => {});
    });
    const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
    holder.addEventListener("keydown", (event) => {
      const button = event.target.closest("button.word");
      if (!button || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      const i = Number(button.dataset.index);
      let next;
      if (event.key in moves) next = Math.min(Math.max(i + moves[event.key], 0), buttons.length - 1);
      else if (event.key === "Home") next = 0;
      else if (event.key === "End") next = buttons.length - 1;
      else return;   // Enter and Space press the button: the click above
      event.preventDefault();
      setAnchor(next);
      buttons[next].focus();
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
      if (!holder.contains(document.activeElement)) setAnchor(current);   // never under a reader's focus
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

  // Search within the transcript: mark the hits, Enter moves the player to the next one.
  const search = document.getElementById("transcript-q");
  const hits = document.getElementById("transcript-hits");
  let found = [], at = -1;
  if (search) {
    search.addEventListener("input", () => {
      // Letters and digits only on both sides ("demo." finds "Demo,"); a term of punctuation alone finds nothing.
      const bare = (text) => text.toLowerCase().replace(/[^\p{L}\p{N}']/gu, "");
      const terms = search.value.split(/\s+/).map(bare).filter(Boolean);
      found = [];
      at = -1;
      buttons.forEach((button, i) => {
        const text = bare(button.textContent);
        const hit = terms.some((term) => text.includes(term));
        button.classList.toggle("hit", hit);
        if (hit) found.push(i);
      });
      hits.textContent = terms.length ? `${found.length} match${found.length === 1 ? "" : "es"}${found.length ? " · Enter jumps to the next" : ""}` : "";
    });
    search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || !found.length) return;
      event.preventDefault();
      at = (at + 1) % found.length;
      const button = buttons[found[at]];
      setAnchor(found[at]);
      button.scrollIntoView({ block: "nearest" });
      if (player) player.currentTime = words[found[at]].s;
    });
  }

  // Captions on and off from the page (the player's own menu does the same; the button follows it).
  const track = player && player.querySelector("track");
  const captions = document.getElementById("captions-toggle");
  if (track && captions) {
    const sync = () => captions.setAttribute("aria-pressed", String(track.track.mode === "showing"));
    captions.addEventListener("click", () => {
      track.track.mode = track.track.mode === "showing" ? "hidden" : "showing";
      sync();
    });
    player.textTracks.addEventListener("change", sync);
    sync();
    captions.hidden = false;
  }

  // Copy buttons: the page's link, or the share link field.
  async function copy(text, status, done = "Link copied") {
    try {
      await navigator.clipboard.writeText(text);
      if (status) status.textContent = done;
      return true;
    } catch {
      if (status) status.textContent = text;   // no clipboard access: show it to copy by hand
      return false;
    }
  }
  const copyLink = document.getElementById("copy-link");
  if (copyLink) {
    // Without a share link the page's own address is copied: it opens for its owner only.
    const url = copyLink.dataset.url;
    const done = url ? "Link copied" : "Link copied (only you can open it; share below to let others watch)";
    copyLink.addEventListener("click", () => copy(url || location.href, document.getElementById("copy-done"), done));
  }
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const field = document.querySelector(button.dataset.copy);
      field.select();
      copy(field.value, null).then((done) => { button.textContent = done ? "Copied" : "Selected: press Ctrl+C or ⌘C"; });
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
