// Record speech live in Debian's headless Chromium against a running RecordPlus: one MediaRecorder
// per --mime on the same canvas + speech stream, every 1 s piece uploaded with its chunk_index as
// it comes, the live transcript (SSE) listened to with EventSource while recording, finalize with
// chunk_count at stop, then wait for each live stream's final event.
//
// Usage: node tests/live_e2e/live_record.mjs --base URL --speech WAV --seconds 72
//        --mime 'video/webm;codecs=vp8,opus' [--mime ...] [--timeslice-ms 1000] [--live-timeout 240]
//        [--chromium /usr/bin/chromium] [--key-frame-ms 1000]
//
// --key-frame-ms asks every MediaRecorder for a key frame that often (MP4 pieces end at key frames).
//
// Prints one JSON object on stdout (what the pytest asserts on) and exits 0; on a failure it prints
// {"error": ...} with whatever was learnt so far and exits 1. Diagnostics go to stderr. It never
// downloads a browser: playwright-core only drives the Chromium binary it is given.

import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));

// As tests/e2e/record_and_play.mjs: headless, no GPU, no traffic the test did not ask for, a fresh
// profile. Autoplay without a gesture lets the AudioContext run; the page's timers must not be
// throttled while it records for a minute nobody looks at it.
const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
  "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
];

function log(...parts) {
  process.stderr.write(`[live-e2e] ${parts.join(" ")}\n`);
}

function options() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" }, speech: { type: "string" }, mime: { type: "string", multiple: true },
      seconds: { type: "string", default: "72" }, "timeslice-ms": { type: "string", default: "1000" },
      "live-timeout": { type: "string", default: "240" }, chromium: { type: "string", default: "/usr/bin/chromium" },
      "key-frame-ms": { type: "string" },
    },
  });
  for (const name of ["base", "speech", "mime"]) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  return {
    base: values.base.replace(/\/+$/, ""), speech: values.speech, mimeTypes: values.mime,
    seconds: Number(values.seconds), timesliceMs: Number(values["timeslice-ms"]),
    liveTimeoutS: Number(values["live-timeout"]), chromium: realpathSync(values.chromium),
    keyFrameMs: values["key-frame-ms"] ? Number(values["key-frame-ms"]) : null,
  };
}

async function main() {
  const opts = options();
  const result = {};
  const profile = mkdtempSync(join(tmpdir(), "recordplus-live-e2e-"));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium, headless: true, args: CHROMIUM_ARGS, viewport: { width: 400, height: 300 },
    });
    result.browserVersion = context.browser() ? context.browser().version() : null;
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => log(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log(`pageerror: ${error.message}`));
    // The page and the speech come from the API's own origin (fulfilled here, never fetched).
    const pageUrl = `${opts.base}/__live_e2e__/recorder.html`;
    const speechUrl = `${opts.base}/__live_e2e__/speech.wav`;
    await context.route(pageUrl, (route) => route.fulfill({ path: join(HERE, "live_recorder.html"), contentType: "text/html; charset=utf-8" }));
    await context.route(speechUrl, (route) => route.fulfill({ path: opts.speech, contentType: "audio/wav" }));
    await page.goto(pageUrl);
    log(`recording ${opts.seconds}s of ${opts.mimeTypes.join(" + ")} in Chromium ${result.browserVersion}`);
    result.recording = await page.evaluate((args) => window.recordLive(args), {
      base: opts.base, mimeTypes: opts.mimeTypes, seconds: opts.seconds, timesliceMs: opts.timesliceMs,
      speechUrl, liveTimeoutS: opts.liveTimeoutS, keyFrameMs: opts.keyFrameMs,
    });
    for (const run of result.recording.runs) {
      const last = run.live.events[run.live.events.length - 1];
      log(`video ${run.videoId} (${run.mimeType}): ${run.chunks.length} pieces, ${run.live.events.length} live events, last ${last ? last.event : "none"}`);
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    result.error = String(error && error.stack ? error.stack : error);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 1;
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

process.exitCode = await main();
