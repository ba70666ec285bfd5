// Drive the RecordPlus web app in Debian's headless Chromium, as a person would: sign in, record a
// moving, sounding tab from /record with the (fake) microphone speaking (after the countdown),
// lose the network for a while in the middle (the page retries with growing waits), stop, land on
// the watch page, play, seek, turn captions off and on with the page's button, click a transcript
// word, search the transcript, reach and use the controls from the keyboard, download the video,
// captions and transcript, copy the link, share the video and watch it from a fresh browser
// without an account, revoke the link, then make an expiring link. A library tab follows the
// recording from uploading to ready; a second recording, sent the way the original extension
// sends (no total), shows "Processing N%" there, fails (it is not a video), and is deleted from
// its watch page once the confirmation is dismissed and once accepted. Screenshots of each page,
// desktop and 390 px wide.
//
// Usage: node tests/web/web_app.mjs --base URL --user NAME --password PW --speech WAV
//        --shots DIR [--seconds 12] [--offline-seconds 3] [--ready-timeout 240] [--chromium PATH]
//
// Prints one JSON object on stdout (the facts the pytest asserts on) and exits 0; on a failure it
// prints {"error": ...} with whatever was learnt so far and exits 1. Diagnostics go to stderr.
// It never downloads a browser: playwright-core only drives the Chromium binary it is given.

import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const TAB_TITLE = "RecordPlus web e2e tab";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

function log(...parts) {
  process.stderr.write(`[web-e2e] ${parts.join(" ")}\n`);
}

function options() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" }, user: { type: "string" }, password: { type: "string" },
      speech: { type: "string" }, shots: { type: "string" },
      seconds: { type: "string", default: "12" }, "offline-seconds": { type: "string", default: "3" },
      "ready-timeout": { type: "string", default: "240" }, chromium: { type: "string", default: "/usr/bin/chromium" },
    },
  });
  for (const name of ["base", "user", "password", "speech", "shots"]) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  return {
    base: values.base.replace(/\/+$/, ""), user: values.user, password: values.password, speech: values.speech,
    shots: values.shots, seconds: Number(values.seconds), offlineSeconds: Number(values["offline-seconds"]),
    readyTimeoutMs: Number(values["ready-timeout"]) * 1000, chromium: values.chromium,
  };
}

const COMMON_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
  // The recorder keeps running while the captured tab is in front: no throttling of its timers.
  "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
];

/**
 * Runs in every document of a page before its own scripts (page.addInitScript): notes each fetch
 * the page makes (when it started and ended, its status or error) and each change of what the
 * recorder's countdown and network notice and the library's stage labels show, in window.__e2e,
 * for the report. `__e2eDescribe` names the focused element for the keyboard checks.
 */
function instrument() {
  const log = (window.__e2e = { fetches: [], shown: [] });
  const original = window.fetch;
  window.fetch = function (input, init) {
    const entry = { method: (init && init.method) || "GET", url: String((input && input.url) || input), at: Date.now() };
    log.fetches.push(entry);
    return original.apply(this, arguments).then(
      (response) => { entry.end = Date.now(); entry.status = response.status; return response; },
      (error) => { entry.end = Date.now(); entry.error = String(error); throw error; },
    );
  };
  const watched = "#rec-countdown, #rec-network, [data-stage]";
  const note = (element) => {
    const tile = element.closest(".tile");
    log.shown.push({ what: tile ? `stage:${tile.dataset.videoId}` : element.id, at: Date.now(), hidden: element.hidden, text: element.textContent });
  };
  new MutationObserver((records) => {
    const seen = new Set();
    for (const record of records) {
      const node = record.target.nodeType === Node.ELEMENT_NODE ? record.target : record.target.parentElement;
      const element = node && node.closest(watched);
      if (element && !seen.has(element)) { seen.add(element); note(element); }
    }
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["hidden"] });
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll(watched).forEach(note));
  window.__e2eDescribe = (element) => {
    if (!element || element === document.body) return "body";
    if (element.matches("button.word")) return "word";
    if (element.id) return `#${element.id}`;
    if (element.matches("input[type=radio]")) return `radio:${element.value}`;
    const text = (element.textContent || element.value || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return `${element.tagName.toLowerCase()}${element.name ? `[name=${element.name}]` : ""}:${text}`;
  };
}

/** Console errors and page errors of a page, kept with the time they happened. */
function watchConsole(page, name, sink) {
  page.on("console", (message) => {
    if (message.type() === "error") sink.push({ page: name, at: Date.now(), text: message.text() });
    log(`${name} console.${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => {
    sink.push({ page: name, at: Date.now(), text: `pageerror: ${error.message}` });
    log(`${name} pageerror: ${error.message}`);
  });
}

async function shoot(page, dir, name) {
  for (const [label, size] of [["desktop", DESKTOP], ["390px", PHONE]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: join(dir, `${name}-${label}.png`), fullPage: true });
    // Readable at 390 px: nothing wider than the window (no sideways scrolling).
    if (label === "390px") {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) throw new Error(`${name} is ${overflow}px wider than a 390px screen`);
    }
  }
  await page.setViewportSize(DESKTOP);
}

/** The recorder's state and what its page shows of the upload (run in the recorder page). */
function recorderFacts() {
  const $ = (id) => document.getElementById(id);
  return {
    ...window.recordPlusRecorder, progressValue: $("rec-progress").value, progressMax: $("rec-progress").max,
    uploadedText: $("rec-uploaded").textContent, behind: $("rec-behind").textContent,
    notice: $("rec-network").hidden ? null : $("rec-network").textContent,
  };
}

/** The caption track's mode and what the page's Captions button says about it. */
function captionsState(page) {
  return page.evaluate(() => {
    const element = document.querySelector("#player track");
    const button = document.getElementById("captions-toggle");
    return {
      mode: element ? element.track.mode : null, pressed: button ? button.getAttribute("aria-pressed") : null,
      label: button ? button.textContent.trim() : null,
    };
  });
}

/** The player's facts after a play, a seek to the middle, captions turned off and on from the
 * keyboard with the page's Captions button, and a click on a word. */
async function exercisePlayer(page) {
  const facts = {};
  facts.load = await page.evaluate(async () => {
    const v = document.getElementById("player");
    if (v.readyState < 1) await new Promise((resolve, reject) => {
      v.addEventListener("loadedmetadata", resolve, { once: true });
      v.addEventListener("error", () => reject(new Error(`media error ${v.error && v.error.code}`)), { once: true });
    });
    return { duration: v.duration, videoWidth: v.videoWidth, videoHeight: v.videoHeight };
  });
  facts.play = await page.evaluate(async () => {
    const v = document.getElementById("player");
    v.muted = true;
    await v.play();
    const from = v.currentTime;
    await new Promise((resolve) => {
      const check = () => (v.currentTime >= from + 0.5 ? resolve() : requestAnimationFrame(check));
      check();
    });
    v.pause();
    const quality = v.getVideoPlaybackQuality();
    return { from, to: v.currentTime, framesDecoded: quality.totalVideoFrames };
  });
  facts.seek = await page.evaluate(async () => {
    const v = document.getElementById("player");
    const target = v.duration / 2;
    const seeked = new Promise((resolve) => v.addEventListener("seeked", resolve, { once: true }));
    v.currentTime = target;
    await seeked;
    return { target, currentTime: v.currentTime };
  });
  // The viewer's own control: Space on the Captions button, until it has been off and on again.
  await page.waitForSelector("#captions-toggle", { state: "visible", timeout: 15_000 });
  facts.captionsToggle = [await captionsState(page)];
  for (let press = 0; press < 3; press += 1) {
    const before = facts.captionsToggle.at(-1).mode;
    await page.focus("#captions-toggle");
    await page.keyboard.press("Space");
    await page.waitForFunction((before) => document.querySelector("#player track").track.mode !== before, before, { timeout: 15_000 })
      .catch(() => {}); // a press that changed nothing is reported as such
    facts.captionsToggle.push(await captionsState(page));
    if (press >= 1 && facts.captionsToggle.at(-1).mode === "showing") break;
  }
  facts.captions = await page.evaluate(async () => {
    const v = document.getElementById("player");
    const element = v.querySelector("track");
    if (!element) return { track: false };
    const track = element.track;
    if (element.readyState !== 2) await new Promise((resolve, reject) => {
      element.addEventListener("load", resolve, { once: true });
      element.addEventListener("error", () => reject(new Error("the captions track did not load")), { once: true });
    });
    const cues = [...track.cues];
    const first = cues[0];
    const seeked = new Promise((resolve) => v.addEventListener("seeked", resolve, { once: true }));
    v.currentTime = (first.startTime + first.endTime) / 2;
    await seeked;
    await new Promise((resolve) => {
      const check = () => (track.activeCues.length ? resolve() : requestAnimationFrame(check));
      check();
    });
    return {
      track: true, label: track.label, language: track.language, kind: track.kind, mode: track.mode, cues: cues.length,
      activeText: [...track.activeCues].map((cue) => cue.text).join(" "),
    };
  });
  // Click the third word (or the last, if fewer) with a real mouse click.
  const words = page.locator("#words button.word");
  const count = await words.count();
  const index = Math.min(2, count - 1);
  const word = words.nth(index);
  const start = Number(await word.getAttribute("data-start"));
  const text = await word.textContent();
  await page.evaluate(() => {
    const v = document.getElementById("player");
    window.__seekedAt = null;
    v.addEventListener("seeked", () => { window.__seekedAt = v.currentTime; }, { once: true });
  });
  await word.click();
  await page.waitForFunction(() => window.__seekedAt !== null, null, { timeout: 15_000 });
  facts.wordClick = await page.evaluate(({ start }) => {
    const v = document.getElementById("player");
    v.pause();
    const current = document.querySelector("#words button.word.current");
    return {
      start, currentTimeAtSeeked: window.__seekedAt,
      highlighted: current ? Number(current.dataset.index) : null,
      highlightedStart: current ? Number(current.dataset.start) : null,
    };
  }, { start });
  facts.wordClick.index = index;
  facts.wordClick.text = text;
  facts.wordCount = count;
  return facts;
}

/** Move the player from the keyboard and say where it went: `press` runs the keys, then the
 * first `seeked` after them gives currentTime, with the word highlighted there. */
async function seekedBy(page, press) {
  await page.evaluate(() => {
    const v = document.getElementById("player");
    window.__seekedAt = null;
    v.addEventListener("seeked", () => { window.__seekedAt = v.currentTime; }, { once: true });
  });
  await press();
  await page.waitForFunction(() => window.__seekedAt !== null, null, { timeout: 15_000 });
  return page.evaluate(() => {
    const v = document.getElementById("player");
    v.pause();
    const current = document.querySelector("#words button.word.current");
    return { currentTime: window.__seekedAt, highlightedStart: current ? Number(current.dataset.start) : null };
  });
}

/** Search within the transcript: type a word that is in it, read the marks and the count, press
 * Enter (and again) to go to the hits; then a word that is not in it. */
async function searchTranscript(page) {
  const words = await page.evaluate(() => JSON.parse(document.getElementById("words-data").textContent));
  // The longest word (fewest accidental matches), searched for in capitals: matching ignores case.
  const term = words.map((w) => w.w.replace(/[^\p{L}\p{N}']/gu, "")).sort((a, b) => b.length - a.length)[0];
  await page.focus("#transcript-q");
  await page.keyboard.type(term.toUpperCase());
  const marked = await page.evaluate(() => ({
    hits: [...document.querySelectorAll("#words button.word.hit")].map((b) => Number(b.dataset.index)),
    status: document.getElementById("transcript-hits").textContent,
  }));
  const enters = [];
  for (let i = 0; i < Math.min(2, marked.hits.length); i += 1) enters.push(await seekedBy(page, () => page.keyboard.press("Enter")));
  await page.fill("#transcript-q", "");
  await page.keyboard.type("zzqx");
  const none = await page.evaluate(() => ({
    hits: document.querySelectorAll("#words button.word.hit").length, status: document.getElementById("transcript-hits").textContent,
  }));
  await page.fill("#transcript-q", "");
  return { term, words, ...marked, enters, none };
}

/** The transcript from the keyboard: one Tab from the search box lands on a word (the one being
 * played), the arrow keys move, Enter plays from the focused word, and one Tab leaves it. */
async function keyboardTranscript(page) {
  const focused = () => page.evaluate(() => ({
    what: window.__e2eDescribe(document.activeElement),
    index: document.activeElement.matches("button.word") ? Number(document.activeElement.dataset.index) : null,
    current: document.querySelector("#words button.word.current") ? Number(document.querySelector("#words button.word.current").dataset.index) : null,
  }));
  await page.focus("#transcript-q");
  await page.keyboard.press("Tab");
  const landed = await focused();
  const moves = [];
  for (const key of ["ArrowRight", "ArrowRight", "ArrowLeft", "End", "Home", "ArrowRight", "ArrowRight", "ArrowRight"]) {
    await page.keyboard.press(key);
    moves.push({ key, ...(await focused()) });
  }
  const chosen = moves.at(-1).index;
  const start = await page.evaluate((i) => Number(document.querySelectorAll("#words button.word")[i].dataset.start), chosen);
  const enter = await seekedBy(page, () => page.keyboard.press("Enter"));
  await page.keyboard.press("Tab");
  const after = await focused();
  await page.keyboard.press("Shift+Tab");
  const back = await focused();
  return { landed, moves, chosen, start, enter, after, back, count: await page.locator("#words button.word").count() };
}

/** Tab from the skip link through the whole page, naming each stop once (the player's own
 * controls are several stops on the one <video>), until `last` or 80 presses. */
async function tabWalk(page, last) {
  await page.focus("a.skip");
  const stops = [await page.evaluate(() => window.__e2eDescribe(document.activeElement))];
  let presses = 0;
  while (stops.at(-1) !== last && presses < 80) {
    await page.keyboard.press("Tab");
    presses += 1;
    const stop = await page.evaluate(() => window.__e2eDescribe(document.activeElement));
    if (stop !== stops.at(-1)) stops.push(stop);
  }
  return { stops, presses };
}

/** Each download link pressed from the keyboard: the file the browser saved (name, size, first
 * bytes or text) and, fetched again with the page's cookies, the status and headers it came with. */
async function downloads(page, dir, name) {
  const links = page.locator(".downloads a[download]");
  const found = [];
  for (let i = 0; i < (await links.count()); i += 1) {
    const link = links.nth(i);
    const href = await link.evaluate((a) => a.href);
    await link.focus();
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 60_000 }), page.keyboard.press("Enter")]);
    const path = join(dir, `${name}-${i}`);
    await download.saveAs(path);
    const bytes = readFileSync(path);
    rmSync(path, { force: true });
    const again = await page.context().request.get(href);
    const fetched = await again.body();
    found.push({
      label: (await link.textContent()).trim(), path: new URL(href).pathname, failure: await download.failure(),
      filename: download.suggestedFilename(), size: bytes.length, head: bytes.subarray(0, 4).toString("hex"),
      text: bytes.length < 200_000 && !/video/i.test(again.headers()["content-type"] || "") ? bytes.toString("utf8") : null,
      status: again.status(), contentType: again.headers()["content-type"], disposition: again.headers()["content-disposition"],
      fetchedSize: fetched.length, same: Buffer.compare(bytes, fetched) === 0, stillOn: page.url(),
    });
  }
  return found;
}

/** A copy button pressed from the keyboard: what it says, and what the clipboard then holds
 * (a sentinel is written first, so an unchanged clipboard shows). */
async function copied(page, selector, status) {
  await page.evaluate(async (status) => {
    await navigator.clipboard.writeText("nothing copied yet");
    if (status) document.querySelector(status).textContent = "";
  }, status);
  await page.focus(selector);
  await page.keyboard.press("Enter");
  await page.waitForFunction(({ selector, status }) => (status ? document.querySelector(status).textContent : /Copied/.test(document.querySelector(selector).textContent)), { selector, status }, { timeout: 15_000 });
  return page.evaluate(async ({ selector, status }) => ({
    clipboard: await navigator.clipboard.readText(), said: status ? document.querySelector(status).textContent : document.querySelector(selector).textContent,
    href: location.href,
  }), { selector, status });
}

/** The library tile of video `id`: its stage, its length (on the thumbnail and for a screen
 * reader) and whether its thumbnail is there. */
function tileFacts(page, id) {
  return page.evaluate((id) => {
    const tile = document.querySelector(`.tile[data-video-id="${id}"]`);
    if (!tile) return null;
    const [badge, spoken] = tile.querySelectorAll("[data-duration]");
    const img = tile.querySelector(".thumb img");
    return {
      busy: tile.dataset.busy, stage: tile.querySelector("[data-stage]").textContent, stageClass: tile.querySelector("[data-stage]").className,
      badge: badge.hidden ? null : badge.textContent, spoken: spoken.hidden ? null : spoken.textContent.trim(),
      thumbnail: img ? img.complete && img.naturalWidth > 0 : false, title: tile.querySelector("h2").textContent.trim(),
    };
  }, id);
}

/** What the library tab showed for video `id`, one entry per change. */
function stagesShown(page, id) {
  return page.evaluate((id) => {
    const texts = window.__e2e.shown.filter((s) => s.what === `stage:${id}`).map((s) => ({ at: s.at, text: s.text }));
    return texts.filter((s, i) => i === 0 || s.text !== texts[i - 1].text);
  }, id);
}

/** Wait in the driver until `check()` holds (events the page does not wait for itself). */
async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main() {
  const opts = options();
  const result = { consoleErrors: [] };
  mkdirSync(opts.shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "recordplus-web-e2e-"));
  const saved = mkdtempSync(join(tmpdir(), "recordplus-web-e2e-downloads-"));
  let context = null;
  let visitorBrowser = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      ignoreDefaultArgs: ["--mute-audio"],
      args: [
        ...COMMON_ARGS,
        `--auto-select-tab-capture-source-by-title=${TAB_TITLE}`,
        "--use-fake-device-for-media-stream",
        `--use-file-for-fake-audio-capture=${opts.speech}`,
      ],
      viewport: DESKTOP,
      // The clipboard, so that "Copy link" can be read back.
      permissions: ["microphone", "clipboard-read", "clipboard-write"],
    });
    // The tab to record lives on the app's origin (any page would do; this one needs no server).
    const tabUrl = `${opts.base}/__web_e2e__/tab.html`;
    await context.route(tabUrl, (route) => route.fulfill({ path: join(HERE, "recorded_tab.html"), contentType: "text/html; charset=utf-8" }));
    const tab = context.pages()[0] || (await context.newPage());
    await tab.goto(tabUrl);

    const app = await context.newPage();
    watchConsole(app, "app", result.consoleErrors);
    await app.addInitScript(instrument);

    // Sign in.
    await app.goto(`${opts.base}/record`);
    result.loginRedirect = app.url();
    await shoot(app, opts.shots, "login");
    await app.fill("#id_username", opts.user);
    await app.fill("#id_password", opts.password);
    await app.click("button[type=submit]");
    await app.waitForURL(`${opts.base}/record`);
    await shoot(app, opts.shots, "recorder");

    // Record, from the keyboard: Tab from the title past the microphone box to the start button,
    // Enter. The picker is answered by Chromium with the tab titled TAB_TITLE.
    await app.focus("#rec-title");
    await app.keyboard.press("Tab");
    await app.keyboard.press("Tab");
    result.focusedBeforeStart = await app.evaluate(() => document.activeElement.id);
    await app.keyboard.press("Enter");
    await app.waitForFunction(() => window.recordPlusRecorder.pieces >= 3, null, { timeout: 30_000 });
    result.videoId = await app.evaluate(() => window.recordPlusRecorder.videoId);
    // The countdown, as it was shown, and when the recorder really started.
    result.countdown = await app.evaluate(() => ({
      shown: window.__e2e.shown.filter((s) => s.what === "rec-countdown"), startedAt: window.recordPlusRecorder.startedAt,
      firstPiece: (window.__e2e.fetches.find((f) => f.url.includes("/update_video_chunck")) || {}).at,
    }));

    // A library tab, opened while the recording uploads; it follows the recording to ready.
    const library = await context.newPage();
    watchConsole(library, "library", result.consoleErrors);
    await library.addInitScript(instrument);
    await library.goto(`${opts.base}/`);
    result.libraryWhileRecording = await tileFacts(library, result.videoId);
    log(`recording video ${result.videoId}; cutting the network for ${opts.offlineSeconds}s`);

    // The network goes away for a while, mid-recording, then comes back.
    const cdp = await context.newCDPSession(app);
    await cdp.send("Network.enable");
    const offline = { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 };
    const before = await app.evaluate(() => ({ ...window.recordPlusRecorder }));
    result.offlineFrom = Date.now();
    await cdp.send("Network.emulateNetworkConditions", offline);
    await app.waitForFunction(() => window.recordPlusRecorder.failures >= 1, null, { timeout: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, opts.offlineSeconds * 1000)); // the outage itself
    const during = await app.evaluate(recorderFacts);
    await shoot(app, opts.shots, "recorder-offline");
    await cdp.send("Network.emulateNetworkConditions", { ...offline, offline: false });
    result.offlineTo = Date.now();
    result.network = { before, during };
    log(`network back: ${during.pieces} pieces made, ${during.uploaded} uploaded, ${during.failures} failures, "${during.behind}"`);

    // Pause and resume (the clock and the pieces stop while paused).
    await app.click("#rec-pause");
    await app.waitForFunction(() => window.recordPlusRecorder.paused && document.getElementById("rec-state").textContent === "Paused");
    result.pausedLabel = await app.textContent("#rec-pause");
    await app.click("#rec-pause");
    await app.waitForFunction(() => !window.recordPlusRecorder.paused && document.getElementById("rec-state").textContent === "Recording");

    // Keep recording until the asked-for length, and until the backlog is sent again.
    // What the page shows at that moment (the next piece is made a second later).
    const caughtUp = await app.waitForFunction((ms) => {
      const s = window.recordPlusRecorder;
      const $ = (id) => document.getElementById(id);
      const elapsed = $("rec-elapsed").textContent.split(":").reduce((m, x) => m * 60 + Number(x), 0) * 1000;
      return s.uploaded === s.pieces && elapsed >= ms && {
        pieces: s.pieces, uploaded: s.uploaded, bytes: s.bytes, progressValue: $("rec-progress").value, progressMax: $("rec-progress").max,
        uploadedText: $("rec-uploaded").textContent, behind: $("rec-behind").textContent, notice: $("rec-network").hidden ? null : $("rec-network").textContent,
      };
    }, opts.seconds * 1000, { timeout: 60_000 });
    result.caughtUp = await caughtUp.jsonValue();
    await shoot(app, opts.shots, "recorder-live");
    // What the page declares at finalize, read off the request itself (the page leaves right after).
    const finalize = app.waitForRequest((request) => request.url().endsWith("/finalize_video_upload"), { timeout: 60_000 });
    result.recorder = await app.evaluate(recorderFacts);
    // Every request the recorder made so far (the outage's failures and retries among them), and
    // each network notice it showed.
    result.uploadLog = await app.evaluate(() => ({
      fetches: window.__e2e.fetches.map(({ url, ...rest }) => ({ ...rest, path: new URL(url, location.href).pathname + new URL(url, location.href).search })),
      notices: window.__e2e.shown.filter((s) => s.what === "rec-network"),
    }));
    await app.click("#rec-stop");
    result.finalizeBody = JSON.parse((await finalize).postData() || "{}");
    await app.waitForURL(/\/v\/[^/]+$/, { timeout: 60_000 });
    result.watchUrl = app.url();
    log(`on the watch page ${result.watchUrl}; waiting for the video and its transcript`);

    // The watch page shows a processing state and reloads itself once everything is ready.
    await app.bringToFront();
    await shoot(app, opts.shots, "watch-processing");
    await app.waitForSelector("#words button.word", { timeout: opts.readyTimeoutMs });
    result.watchReloadedItself = true;
    result.player = await exercisePlayer(app);
    // Search within the transcript; the transcript and the rest of the page from the keyboard.
    result.search = await searchTranscript(app);
    result.keyboard = await keyboardTranscript(app);
    result.tabWalk = await tabWalk(app, "button:Delete recording");
    // The three download links (pressed from the keyboard), and "Copy link" while it is private.
    result.downloads = await downloads(app, saved, "owner");
    result.copyPrivate = await copied(app, "#copy-link", "#copy-done");
    await app.evaluate(() => { document.getElementById("player").currentTime = 0; });
    await shoot(app, opts.shots, "watch");

    // Share as a link.
    await app.check("input[name=mode][value=link]");
    await app.click("#share-save");
    await app.waitForSelector("#share-url");
    const shareUrl = await app.inputValue("#share-url");
    result.shareUrl = shareUrl;
    // Now "Copy link" copies the share link, as does the Copy button beside it.
    result.copyShared = await copied(app, "#copy-link", "#copy-done");
    result.copyShareField = await copied(app, "button[data-copy]", null);

    // A fresh browser, never signed in, plays it.
    visitorBrowser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: COMMON_ARGS });
    const visitor = await visitorBrowser.newContext({ viewport: DESKTOP });
    const guest = await visitor.newPage();
    watchConsole(guest, "guest", result.consoleErrors);
    const shared = await guest.goto(shareUrl);
    result.shared = { status: shared.status() };
    result.shared.player = await exercisePlayer(guest);
    result.shared.downloads = await downloads(guest, saved, "guest");
    result.shared.cookies = (await visitor.cookies()).map((c) => c.name);
    result.shared.html = await guest.content();
    await guest.evaluate(() => { document.getElementById("player").currentTime = 0; });
    await shoot(guest, opts.shots, "shared");

    // Revoke: the old link is a 404 for everyone.
    await app.check("input[name=mode][value=private]");
    await app.click("#share-save");
    await app.waitForSelector("#share-url", { state: "detached" });
    const revokedGuest = await visitor.newPage();
    const revoked = await revokedGuest.goto(shareUrl);
    const revokedVideo = await revokedGuest.evaluate(async (url) => (await fetch(`${url}/video`)).status, shareUrl);
    result.revoked = { page: revoked.status(), video: revokedVideo };
    result.expectedErrorsFrom = "revoked";

    // An expiring link (the default day offered: tomorrow); the pytest moves it into the past.
    await app.check("input[name=mode][value=expiring]");
    await app.click("#share-save");
    await app.waitForSelector("#share-url");
    result.expiringUrl = await app.inputValue("#share-url");
    result.expiringStatus = (await (await visitor.newPage()).goto(result.expiringUrl)).status();

    // The library tab, open since the recording was uploading, has followed it to ready by itself
    // (no reload): its stage, length and thumbnail.
    const settled = (id) => {
      const tile = document.querySelector(`.tile[data-video-id="${id}"]`);
      const img = tile && tile.querySelector(".thumb img");
      return tile && tile.dataset.busy === "0" && (!img || img.complete);
    };
    await library.waitForFunction(settled, result.videoId, { timeout: 120_000 });
    result.libraryLive = { stages: await stagesShown(library, result.videoId), tile: await tileFacts(library, result.videoId) };

    // A second recording, sent the way the original extension sends: finalize without a total,
    // so the server holds it in "assembling" for its settle window. It is not a video: it fails.
    result.copy = await library.evaluate(async () => {
      const api = `${document.body.dataset.root}api/record/videos`;
      const headers = { "X-CSRFToken": document.body.dataset.csrf };
      const created = await (await fetch(api, {
        method: "POST", credentials: "same-origin", headers: { ...headers, "Content-Type": "application/json" },
        body: JSON.stringify({ title: "Scratch take", description: "" }),
      })).json();
      const chunk = await fetch(`${api}/${created.video_id}/update_video_chunck?chunk_index=0`, {
        method: "PATCH", credentials: "same-origin", headers: { ...headers, "Content-Type": "application/octet-stream" },
        body: "these bytes are not a video",
      });
      const finalize = await fetch(`${api}/${created.video_id}/finalize_video_upload`, { method: "POST", credentials: "same-origin", headers });
      return { id: created.video_id, publicId: created.public_id, title: "Scratch take", chunk: chunk.status, finalize: finalize.status };
    });
    await library.reload();
    result.copy.atLoad = await tileFacts(library, result.copy.id);
    await library.waitForFunction(settled, result.copy.id, { timeout: 120_000 });
    result.copy.stages = await stagesShown(library, result.copy.id);
    log(`second recording ${result.copy.id}: ${result.copy.stages.map((s) => s.text).join(" → ")}`);

    // Delete it from its watch page, from the keyboard: the browser asks first. Dismissed,
    // nothing is sent and it stays; accepted, it is gone and the library opens.
    await app.goto(`${opts.base}/v/${result.copy.publicId}`);
    const deletePosts = [];
    app.on("request", (request) => { if (request.method() === "POST" && request.url().endsWith("/delete")) deletePosts.push(request.url()); });
    const dialogs = [];
    const answerNext = (accept) => app.once("dialog", (dialog) => {
      dialogs.push({ type: dialog.type(), message: dialog.message(), accept });
      return accept ? dialog.accept() : dialog.dismiss();
    });
    const deleteButton = app.locator("form[data-confirm] button[type=submit]");
    const videoStatus = async () => (await context.request.get(`${opts.base}/api/record/videos/${result.copy.id}`)).status();
    answerNext(false);
    await deleteButton.focus();
    await app.keyboard.press("Enter");
    await until(() => dialogs.length === 1, 15_000, "the delete confirmation");
    await app.waitForTimeout(500); // a submit that slipped through would be on its way by now
    result.deleteDismissed = { dialogs: [...dialogs], url: app.url(), video: await videoStatus(), posts: deletePosts.length };
    answerNext(true);
    await deleteButton.focus();
    await Promise.all([app.waitForURL(`${opts.base}/`, { timeout: 60_000 }), app.keyboard.press("Enter")]);
    result.deleteAccepted = { dialogs: [...dialogs], url: app.url(), video: await videoStatus(), posts: deletePosts.length };

    // The library, with the recording in it (and its length), the deleted one gone.
    await app.goto(`${opts.base}/`);
    await app.waitForFunction(() => [...document.querySelectorAll(".thumb img")].every((img) => img.complete), null, { timeout: 30_000 });
    await shoot(app, opts.shots, "library");
    result.library = await app.evaluate(() => [...document.querySelectorAll(".tile h2")].map((h) => h.textContent.trim()));
    result.libraryTile = await tileFacts(app, result.videoId);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    result.error = String(error && error.stack ? error.stack : error);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 1;
  } finally {
    if (visitorBrowser) await visitorBrowser.close().catch(() => {});
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
    rmSync(saved, { recursive: true, force: true });
  }
}

process.exitCode = await main();
