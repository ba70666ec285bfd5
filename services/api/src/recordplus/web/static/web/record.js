// The recorder: RecordPlus's own reference client.
//
// getDisplayMedia (+ the microphone, mixed in with WebAudio) → MediaRecorder with a 1 s timeslice →
// each piece is queued with its chunk_index and sent in order by one uploader. A failed piece is
// retried with growing waits; after any failure the uploader first asks the server what it has
// (GET videos/N/upload) and drops what already arrived, so a network drop loses nothing and sends
// nothing twice. Stop waits for the queue to drain, finalizes with the declared total
// (chunk_count) and opens the watch page.
"use strict";

(() => {
  const TIMESLICE_MS = 1000;
  const COUNTDOWN_S = 3;
  const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

  const root = document.body.dataset.root;            // "/" or the script prefix
  const api = `${root}api/record/videos`;
  const csrf = document.body.dataset.csrf;
  const box = document.getElementById("recorder");
  const $ = (id) => document.getElementById(id);

  // Everything the page knows about the current recording; read by the end-to-end test too.
  const state = (window.recordPlusRecorder = {
    videoId: null, publicId: null, mimeType: "", pieces: 0, uploaded: 0, bytes: 0,
    failures: 0, resyncs: 0, paused: false, stopped: false, finalized: false, error: null,
  });
  const queue = [];            // {index, blob}, in index order
  let recorder = null;
  let streams = [];
  let audioContext = null;
  let elapsedMs = 0;
  let lastTick = 0;
  let ticker = null;
  let wake = null;             // resolves the uploader's wait when a piece is queued
  let drained = null;          // resolves when the queue is empty after stop

  function show(phase) { box.dataset.state = phase; }
  function fail(message) {
    state.error = message;
    $("rec-error").textContent = message;
    $("rec-error").hidden = false;
  }
  function headers(extra = {}) { return { "X-CSRFToken": csrf, ...extra }; }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function pickMimeType() {
    const wanted = ["video/webm;codecs=vp9,opus", "video/webm;codecs=vp8,opus", "video/webm", "video/mp4"];
    return wanted.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type)) || "";
  }

  function clock(ms) {
    const s = Math.floor(ms / 1000);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function render() {
    const pending = queue.length;
    $("rec-elapsed").textContent = clock(elapsedMs);
    $("rec-progress").max = Math.max(state.pieces, 1);
    $("rec-progress").value = state.uploaded;
    $("rec-uploaded").textContent = `${state.uploaded} of ${state.pieces} pieces uploaded (${(state.bytes / 1048576).toFixed(1)} MB)`;
    $("rec-behind").textContent = pending ? `${pending * (TIMESLICE_MS / 1000)} s behind` : "up to date";
    $("rec-state").textContent = state.stopped ? "Finishing upload…" : state.paused ? "Paused" : "Recording";
  }

  function tick() {
    const now = performance.now();
    if (recorder && recorder.state === "recording") elapsedMs += now - lastTick;
    lastTick = now;
    render();
  }

  async function api_json(method, url, body) {
    const response = await fetch(url, {
      method, credentials: "same-origin",
      headers: headers(body ? { "Content-Type": "application/json" } : {}),
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw Object.assign(new Error(data.message || `HTTP ${response.status}`), { status: response.status });
    return data;
  }

  // Drop queued pieces the server already holds (a request can land while its answer is lost).
  async function resync() {
    const status = await api_json("GET", `${api}/${state.videoId}/upload`);
    const received = new Set(status.received);
    state.resyncs += 1;
    while (queue.length && received.has(queue[0].index)) {
      const piece = queue.shift();
      state.uploaded += 1;
      state.bytes += piece.blob.size;
    }
  }

  async function send(piece) {
    const url = `${api}/${state.videoId}/update_video_chunck?chunk_index=${piece.index}`;
    const response = await fetch(url, {
      method: "PATCH", credentials: "same-origin", body: piece.blob,
      headers: headers({ "Content-Type": "application/octet-stream" }),
    });
    if (response.ok) return;
    const data = await response.json().catch(() => ({}));
    const error = new Error(data.message || `HTTP ${response.status}`);
    // 4xx other than 408/429 will not get better by retrying: stop and say why.
    error.permanent = response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status);
    throw error;
  }

  async function uploader() {
    let attempt = 0;
    let needsResync = false;
    for (;;) {
      if (!queue.length) {
        if (state.stopped) { drained && drained(); return; }
        await new Promise((resolve) => { wake = resolve; });
        continue;
      }
      try {
        if (needsResync) { await resync(); needsResync = false; render(); if (!queue.length) continue; }
        const piece = queue[0];
        await send(piece);
        queue.shift();
        state.uploaded += 1;
        state.bytes += piece.blob.size;
        attempt = 0;
        $("rec-network").hidden = true;
      } catch (error) {
        if (error.permanent) { fail(`Upload stopped: ${error.message}`); return; }
        state.failures += 1;
        needsResync = true;
        const wait = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
        attempt += 1;
        $("rec-network").textContent = `Connection problem (${error.message}); retrying in ${wait / 1000} s. Nothing is lost: the recording keeps going.`;
        $("rec-network").hidden = false;
        await sleep(wait);
      }
      render();
    }
  }

  function enqueue(blob) {
    if (!blob || !blob.size) return;
    queue.push({ index: state.pieces, blob });
    state.pieces += 1;
    if (wake) { const w = wake; wake = null; w(); }
    render();
  }

  async function capture() {
    const display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 30 }, audio: true });
    streams.push(display);
    const tracks = [...display.getVideoTracks()];
    let mic = null;
    if ($("rec-mic").checked) {
      try {
        mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
        streams.push(mic);
      } catch (error) {
        $("rec-network").textContent = `Recording without the microphone (${error.message}).`;
        $("rec-network").hidden = false;
      }
    }
    const sources = [display, mic].filter((s) => s && s.getAudioTracks().length);
    if (sources.length > 1) {
      // Two sounds, one track: MediaRecorder records only the first audio track it is given.
      audioContext = new AudioContext();
      const mix = audioContext.createMediaStreamDestination();
      for (const source of sources) audioContext.createMediaStreamSource(source).connect(mix);
      tracks.push(...mix.stream.getAudioTracks());
    } else if (sources.length === 1) {
      tracks.push(...sources[0].getAudioTracks());
    }
    // The user can end sharing from the browser's own bar: treat it as Stop.
    display.getVideoTracks()[0].addEventListener("ended", () => stop());
    return new MediaStream(tracks);
  }

  async function countdown() {
    const overlay = $("rec-countdown");
    overlay.hidden = false;
    for (let n = COUNTDOWN_S; n > 0; n -= 1) {
      overlay.textContent = String(n);
      await sleep(1000);
    }
    overlay.hidden = true;
  }

  async function start() {
    $("rec-start").disabled = true;
    let stream;
    try {
      stream = await capture();
    } catch (error) {
      $("rec-start").disabled = false;
      fail(error.name === "NotAllowedError" ? "Sharing was cancelled; choose a screen, window or tab to record." : `Cannot record: ${error.message}`);
      return;
    }
    show("live");
    const preview = $("rec-preview");
    preview.srcObject = stream;
    preview.play().catch(() => {});
    const title = $("rec-title").value.trim() || `Recording ${new Date().toLocaleString()}`;
    try {
      const [created] = await Promise.all([api_json("POST", api, { title, description: "" }), countdown()]);
      state.videoId = created.video_id;
      state.publicId = created.public_id;
    } catch (error) {
      fail(`Cannot start the upload: ${error.message}`);
      for (const s of streams) s.getTracks().forEach((t) => t.stop());
      return;
    }
    state.mimeType = pickMimeType();
    const options = state.mimeType ? { mimeType: state.mimeType } : {};
    // An MP4 recorder ends a fragment only at a key frame (every 100 frames by default): one a
    // second lets each piece carry its second of audio, so it is transcribed while recording.
    if (state.mimeType.startsWith("video/mp4")) options.videoKeyFrameIntervalDuration = 1000;
    recorder = new MediaRecorder(stream, options);
    recorder.addEventListener("dataavailable", (event) => enqueue(event.data));
    recorder.addEventListener("stop", () => finish());
    recorder.start(TIMESLICE_MS);
    state.startedAt = Date.now();
    lastTick = performance.now();
    ticker = setInterval(tick, 250);
    uploader();
    $("rec-pause").disabled = false;
    $("rec-stop").disabled = false;
    $("rec-stop").focus();
    render();
  }

  function togglePause() {
    if (!recorder) return;
    if (recorder.state === "recording") { recorder.pause(); state.paused = true; $("rec-pause").textContent = "Resume"; }
    else if (recorder.state === "paused") { recorder.resume(); state.paused = false; $("rec-pause").textContent = "Pause"; }
    tick();
  }

  function stop() {
    if (!recorder || recorder.state === "inactive") return;
    tick();
    $("rec-pause").disabled = true;
    $("rec-stop").disabled = true;
    recorder.stop();     // one last dataavailable, then "stop" → finish()
  }

  async function finish() {
    state.recordedMs = elapsedMs;
    for (const s of streams) s.getTracks().forEach((t) => t.stop());
    if (audioContext) audioContext.close();
    state.stopped = true;
    render();
    const done = new Promise((resolve) => { drained = resolve; });
    if (wake) { const w = wake; wake = null; w(); }
    await done;
    clearInterval(ticker);
    if (state.error) return;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await api_json("POST", `${api}/${state.videoId}/finalize_video_upload`, { chunk_count: state.pieces });
        break;
      } catch (error) {
        if (error.status && error.status < 500 && error.status !== 429) { fail(`Cannot finish the upload: ${error.message}`); return; }
        await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]);
      }
    }
    state.finalized = true;
    window.location.assign(`${box.dataset.watch}${state.publicId}`);
  }

  addEventListener("beforeunload", (event) => {
    if (recorder && !state.finalized && !state.error) event.preventDefault();
  });
  $("rec-start").addEventListener("click", start);
  $("rec-pause").addEventListener("click", togglePause);
  $("rec-stop").addEventListener("click", stop);
  if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
    $("rec-start").disabled = true;
    fail("This browser cannot record the screen (getDisplayMedia is missing). Use a recent Chrome, Edge or Firefox over HTTPS or on localhost.");
  }
})();
