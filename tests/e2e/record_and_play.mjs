// Drive Debian's headless Chromium through one recording's whole life against a running RecordPlus:
// record a canvas + audio with MediaRecorder, upload each chunk as it is produced, finalize, wait
// for the assembler, then play `stream_video` in a <video> element and seek to the middle.
//
// Usage: node tests/e2e/record_and_play.mjs --base http://127.0.0.1:8000 --mime 'video/webm;codecs=vp8,opus'
//        [--token T] [--seconds 6] [--timeslice-ms 1000] [--ready-timeout 180] [--chromium /path]
//
// Prints one JSON object on stdout (the facts the pytest asserts on) and exits 0; on any failure it
// prints {"error": ...} with whatever was learnt so far and exits 1. Diagnostics go to stderr.
// It never downloads a browser: playwright-core only drives the Chromium binary it is given.

import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));

// Headless, no GPU, no traffic the test did not ask for (updates, sync, QUIC probes), and a
// fresh profile every run. Autoplay without a gesture lets the AudioContext run in a page
// nobody clicked, as the extension's recorder page would after the user's click.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--autoplay-policy=no-user-gesture-required",
];

function log(...parts) {
  process.stderr.write(`[e2e] ${parts.join(" ")}\n`);
}

/** The real file behind `chromium` on PATH (Debian's /usr/bin/chromium is a launcher script). */
function findChromium() {
  const onPath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  if (!onPath) throw new Error("chromium is not on PATH (apt-get install -y chromium)");
  return realpathSync(onPath);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" },
      token: { type: "string", default: "" },
      mime: { type: "string", default: "video/webm;codecs=vp8,opus" },
      seconds: { type: "string", default: "6" },
      "timeslice-ms": { type: "string", default: "1000" },
      "ready-timeout": { type: "string", default: "180" },
      chromium: { type: "string", default: "" },
    },
  });
  if (!values.base) throw new Error("--base is required (the stack's URL, e.g. http://127.0.0.1:8000)");
  return {
    base: values.base.replace(/\/+$/, ""),
    token: values.token || null,
    mimeType: values.mime,
    seconds: Number(values.seconds),
    timesliceMs: Number(values["timeslice-ms"]),
    readyTimeoutS: Number(values["ready-timeout"]),
    chromiumPath: values.chromium || findChromium(),
  };
}

/** Poll the video's detail until the assembler settles it (ready or failed). */
async function waitForSettled(base, token, videoId, timeoutS) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const deadline = Date.now() + timeoutS * 1000;
  let detail = null;
  while (Date.now() < deadline) {
    const response = await fetch(`${base}/api/record/videos/${videoId}`, { headers });
    if (response.ok) {
      detail = await response.json();
      if (detail.status === "ready" || detail.status === "failed") return detail;
    } else {
      log(`detail of video ${videoId}: HTTP ${response.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw Object.assign(new Error(`video ${videoId} not ready after ${timeoutS}s (last status ${detail && detail.status})`), { detail });
}

async function main() {
  const options = parseOptions();
  const result = { options: { ...options, token: options.token ? "<set>" : null } };
  const profile = mkdtempSync(join(tmpdir(), "recordplus-e2e-chromium-"));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: options.chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 400, height: 600 },
      // Chromium's Local Network Access guard treats the page Playwright fulfils as coming from
      // an unknown (public) address space, so it would block the cluster's redirect to the
      // presigned S3 URL on loopback. A deployed site and its bucket share an address space;
      // granting the permission reproduces that, nothing more.
      permissions: ["local-network-access"],
    });
    result.browserVersion = context.browser() ? context.browser().version() : null;
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => log(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log(`pageerror: ${error.message}`));

    // Serve the recorder page from the API's own origin, so its uploads are same-origin.
    const pageUrl = `${options.base}/__e2e__/recorder.html`;
    await context.route(pageUrl, (route) =>
      route.fulfill({ path: join(HERE, "recorder.html"), contentType: "text/html; charset=utf-8" }));

    // Every response of the stream URL (and where a redirect sends it) shows how the bytes came.
    const mediaResponses = [];
    page.on("response", (response) => {
      const request = response.request();
      if (request.resourceType() !== "media" && !response.url().includes("/stream_video")) return;
      mediaResponses.push({
        url: response.url(), status: response.status(),
        location: response.headers()["location"] || null,
        contentRange: response.headers()["content-range"] || null,
      });
    });

    await page.goto(pageUrl);
    log(`recording ${options.seconds}s of ${options.mimeType} in Chromium ${result.browserVersion}`);
    result.recording = await page.evaluate((args) => window.recordAndUpload(args), {
      base: options.base, token: options.token, mimeType: options.mimeType,
      seconds: options.seconds, timesliceMs: options.timesliceMs,
    });
    const { videoId } = result.recording;
    log(`video ${videoId}: ${result.recording.chunks.length} chunks uploaded and finalized; waiting for the assembler`);

    result.detail = await waitForSettled(options.base, options.token, videoId, options.readyTimeoutS);
    if (result.detail.status !== "ready") {
      throw new Error(`video ${videoId} ended ${result.detail.status}: ${result.detail.error}`);
    }

    const streamUrl = `${options.base}/api/record/videos/${videoId}/stream_video/`;
    const player = page.locator("#player");
    result.playback = { streamUrl, load: await page.evaluate((src) => window.loadVideo(src), streamUrl) };
    result.playback.clockAtStart = await page.evaluate(
      (png) => window.readClockFromPng(png), (await player.screenshot({ type: "png" })).toString("base64"));

    const duration = result.playback.load.duration;
    if (Number.isFinite(duration)) {
      const target = duration / 2;
      const seek = await page.evaluate((t) => window.seekVideo(t), target);
      const shot = (await player.screenshot({ type: "png" })).toString("base64");
      seek.target = target;
      seek.clockShown = await page.evaluate((png) => window.readClockFromPng(png), shot);
      result.playback.seek = seek;
      // Then let it play on from the middle for a second: the element must really play.
      result.playback.play = await page.evaluate((s) => window.playFor(s), 1.0);
    } else {
      result.playback.seek = null;     // nothing to seek into: the pytest reports the duration
      result.playback.play = null;
    }
    result.playback.mediaResponses = mediaResponses;
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    result.error = String(error && error.stack ? error.stack : error);
    if (error && error.detail) result.detail = error.detail;
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 1;
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

process.exitCode = await main();
