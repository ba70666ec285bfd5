// Drive the RecordPlus web app in Debian's headless Chromium, as a person would: sign in, record a
// moving, sounding tab from /record with the (fake) microphone speaking, lose the network for a
// while in the middle, stop, land on the watch page, play, seek, show captions, click a transcript
// word, share the video and watch it from a fresh browser without an account, revoke the link,
// then make an expiring link. Screenshots of each page, desktop and 390 px wide.
//
// Usage: node tests/web/web_app.mjs --base URL --user NAME --password PW --speech WAV
//        --shots DIR [--seconds 12] [--offline-seconds 3] [--ready-timeout 240] [--chromium PATH]
//
// Prints one JSON object on stdout (the facts the pytest asserts on) and exits 0; on a failure it
// prints {"error": ...} with whatever was learnt so far and exits 1. Diagnostics go to stderr.
// It never downloads a browser: playwright-core only drives the Chromium binary it is given.

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
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

/** The player's facts after a play, a seek to the middle, captions and a click on a word. */
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
  facts.captions = await page.evaluate(async () => {
    const v = document.getElementById("player");
    const element = v.querySelector("track");
    if (!element) return { track: false };
    const track = element.track;
    track.mode = "showing";
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

async function main() {
  const opts = options();
  const result = { consoleErrors: [] };
  mkdirSync(opts.shots, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "recordplus-web-e2e-"));
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
      permissions: ["microphone"],
    });
    // The tab to record lives on the app's origin (any page would do; this one needs no server).
    const tabUrl = `${opts.base}/__web_e2e__/tab.html`;
    await context.route(tabUrl, (route) => route.fulfill({ path: join(HERE, "recorded_tab.html"), contentType: "text/html; charset=utf-8" }));
    const tab = context.pages()[0] || (await context.newPage());
    await tab.goto(tabUrl);

    const app = await context.newPage();
    watchConsole(app, "app", result.consoleErrors);

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
    const during = await app.evaluate(() => ({ ...window.recordPlusRecorder, behind: document.getElementById("rec-behind").textContent }));
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
    await app.waitForFunction((ms) => {
      const s = window.recordPlusRecorder;
      return s.uploaded === s.pieces && document.getElementById("rec-elapsed").textContent.split(":").reduce((m, x) => m * 60 + Number(x), 0) * 1000 >= ms;
    }, opts.seconds * 1000, { timeout: 60_000 });
    await shoot(app, opts.shots, "recorder-live");
    // What the page declares at finalize, read off the request itself (the page leaves right after).
    const finalize = app.waitForRequest((request) => request.url().endsWith("/finalize_video_upload"), { timeout: 60_000 });
    result.recorder = await app.evaluate(() => ({ ...window.recordPlusRecorder }));
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
    await app.evaluate(() => { document.getElementById("player").currentTime = 0; });
    await shoot(app, opts.shots, "watch");

    // Share as a link.
    await app.check("input[name=mode][value=link]");
    await app.click("#share-save");
    await app.waitForSelector("#share-url");
    const shareUrl = await app.inputValue("#share-url");
    result.shareUrl = shareUrl;

    // A fresh browser, never signed in, plays it.
    visitorBrowser = await chromium.launch({ executablePath: opts.chromium, headless: true, args: COMMON_ARGS });
    const visitor = await visitorBrowser.newContext({ viewport: DESKTOP });
    const guest = await visitor.newPage();
    watchConsole(guest, "guest", result.consoleErrors);
    const shared = await guest.goto(shareUrl);
    result.shared = { status: shared.status() };
    result.shared.player = await exercisePlayer(guest);
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

    // The library, with the recording in it.
    await app.goto(`${opts.base}/`);
    await shoot(app, opts.shots, "library");
    result.library = await app.evaluate(() => [...document.querySelectorAll(".tile h2")].map((h) => h.textContent.trim()));
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
  }
}

process.exitCode = await main();
