// Play a token user's video in headless Chromium from its signed URLs alone: a <video src=…> with a
// <track src=…> of the signed WebVTT, an <img src=…> of the signed thumbnail, and, for contrast, a
// <video> of the plain (unsigned) stream URL, which must fail — the page holds no token at all.
//
// Usage: node tests/e2e/test_signed_media_playback.mjs --base URL --stream URL --vtt URL
//        --thumbnail URL --plain URL [--chromium /path]
//
// Prints one JSON object on stdout (what the pytest asserts on) and exits 0; on failure prints
// {"error": ...} and exits 1. It never downloads a browser: playwright-core drives the given Chromium.

import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

// The same flags as record_and_play.mjs: headless, no GPU, no traffic the test did not ask for.
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

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>signed playback</title>
<video id="player" muted playsinline width="320" height="240"></video>
<video id="plain" muted playsinline width="80" height="60"></video>
<img id="thumb" alt="">
<script>
function waitFor(target, events, timeoutMs, label) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ event: "timeout", label }), timeoutMs);
    for (const name of events) {
      target.addEventListener(name, () => { clearTimeout(timer); resolve({ event: name, label }); }, { once: true });
    }
  });
}

window.playSigned = async ({ stream, vtt, thumbnail, plain }) => {
  const video = document.getElementById("player");
  const track = document.createElement("track");
  track.kind = "captions"; track.srclang = "en"; track.label = "English"; track.default = true;
  track.src = vtt;
  video.appendChild(track);
  const trackLoaded = waitFor(track, ["load", "error"], 30000, "track");
  const metadata = waitFor(video, ["loadedmetadata", "error"], 30000, "video");
  video.src = stream;
  const loaded = await metadata;
  const trackEvent = await trackLoaded;
  track.track.mode = "showing";
  const result = {
    videoEvent: loaded.event, videoError: video.error && video.error.code,
    duration: video.duration, videoWidth: video.videoWidth, videoHeight: video.videoHeight,
    trackEvent: trackEvent.event, trackReadyState: track.readyState,
    cues: Array.from(track.track.cues || []).map((c) => ({ start: c.startTime, end: c.endTime, text: c.text })),
  };
  // Play for a moment: time must advance and frames must be decoded.
  const from = video.currentTime;
  await video.play().catch((e) => { result.playError = String(e); });
  const deadline = Date.now() + 20000;
  while (video.currentTime < from + 0.5 && Date.now() < deadline && !video.error) {
    await new Promise((r) => setTimeout(r, 50));
  }
  video.pause();
  result.played = { from, to: video.currentTime, frames: video.getVideoPlaybackQuality().totalVideoFrames };

  const img = document.getElementById("thumb");
  const imgDone = waitFor(img, ["load", "error"], 30000, "img");
  img.src = thumbnail;
  result.thumbnail = { event: (await imgDone).event, width: img.naturalWidth, height: img.naturalHeight };

  const other = document.getElementById("plain");
  const plainDone = waitFor(other, ["loadedmetadata", "error"], 30000, "plain");
  other.src = plain;
  result.plain = { event: (await plainDone).event, errorCode: other.error && other.error.code };
  return result;
};
</script>`;

function findChromium() {
  const onPath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  if (!onPath) throw new Error("chromium is not on PATH (apt-get install -y chromium)");
  return realpathSync(onPath);
}

async function main() {
  const { values } = parseArgs({
    options: {
      base: { type: "string" }, stream: { type: "string" }, vtt: { type: "string" },
      thumbnail: { type: "string" }, plain: { type: "string" }, chromium: { type: "string", default: "" },
    },
  });
  const result = {};
  const profile = mkdtempSync(join(tmpdir(), "recordplus-e2e-signed-"));
  let context = null;
  try {
    for (const name of ["base", "stream", "vtt", "thumbnail", "plain"]) {
      if (!values[name]) throw new Error(`--${name} is required`);
    }
    context = await chromium.launchPersistentContext(profile, {
      executablePath: values.chromium || findChromium(),
      headless: true,
      args: CHROMIUM_ARGS,
      // As in record_and_play.mjs: the cluster's redirect goes to moto's S3 on loopback.
      permissions: ["local-network-access"],
    });
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (m) => process.stderr.write(`[e2e] console.${m.type()}: ${m.text()}\n`));
    // Every request the page makes to the API, with whether it carried credentials.
    result.requests = [];
    page.on("request", (request) => {
      const headers = request.headers();
      result.requests.push({ url: request.url(), authorization: headers["authorization"] || null, cookie: headers["cookie"] || null });
    });
    result.responses = [];
    page.on("response", (response) => result.responses.push({ url: response.url(), status: response.status() }));
    // The page lives on the API's own origin (as the watch page would), served by Playwright.
    const pageUrl = `${values.base.replace(/\/+$/, "")}/__e2e__/signed.html`;
    await context.route(pageUrl, (route) => route.fulfill({ body: PAGE, contentType: "text/html; charset=utf-8" }));
    await page.goto(pageUrl);
    result.playback = await page.evaluate((args) => window.playSigned(args), {
      stream: values.stream, vtt: values.vtt, thumbnail: values.thumbnail, plain: values.plain,
    });
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
