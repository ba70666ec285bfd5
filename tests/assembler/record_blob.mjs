// Make real MediaRecorder recordings in Debian's headless Chromium, the way the original extension
// records: `new MediaRecorder(stream, {mimeType})`, `start()` with NO timeslice, one Blob at stop.
// The page draws a moving canvas whose content changes every frame (so no two stretches of the
// file look alike) and plays a WebAudio tone when the recording has audio.
//
// Usage: node tests/assembler/record_blob.mjs --out DIR [--seconds 4] [--bitrate 16000000]
//          [--width 256 --height 192 --fps 60] NAME=MIME[+noaudio][+timeslice] [NAME=MIME ...]
//   e.g. vp8-opus='video/webm;codecs=vp8,opus' vp8='video/webm;codecs=vp8+noaudio'
//        mp4=auto   (auto: the first mp4 type MediaRecorder.isTypeSupported accepts)
//   +noaudio: no audio track; +timeslice: start(1000) and concatenate the Blobs, as a recorder
//   that uploads while recording does (Chromium then writes elements of unknown size).
//
// Writes DIR/NAME.<webm|mp4> per recording and prints one JSON object on stdout:
// {"browserVersion", "mp4Support": {mime: bool}, "recordings": {NAME: {file, mimeType,
// recorderMimeType, size, audio, seconds}}}; on failure {"error"} and exit code 1.
// It never downloads a browser: playwright-core drives the Chromium binary found on PATH.

import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

// Same flags as tests/e2e/record_and_play.mjs: headless, no GPU, no traffic nobody asked for, and
// an AudioContext that runs without a user gesture.
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

// The mp4 types Chromium's MediaRecorder may accept, best first (H.264/AAC is what Safari and most
// players expect; VP9/Opus in MP4 is what Chromium builds without an H.264 encoder can still do).
const MP4_CANDIDATES = [
  "video/mp4;codecs=avc1.42E01E,mp4a.40.2",
  "video/mp4;codecs=avc1,mp4a.40.2",
  "video/mp4;codecs=avc1.42E01E,opus",
  "video/mp4;codecs=vp9,opus",
  "video/mp4;codecs=av01,opus",
  "video/mp4",
];

const PAGE_URL = "http://127.0.0.1:9/__recordings__/recorder.html";
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>recorder</title></head>
<body><canvas id="c"></canvas></body></html>`;

function log(...parts) {
  process.stderr.write(`[recordings] ${parts.join(" ")}\n`);
}

/** The real file behind `chromium` on PATH (Debian's /usr/bin/chromium is a launcher script). */
function findChromium() {
  const onPath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  if (!onPath) throw new Error("chromium is not on PATH (apt-get install -y chromium)");
  return realpathSync(onPath);
}

/**
 * Runs inside the page: record `seconds` of the canvas (and a tone) with one Blob at stop, and
 * hand the bytes back as base64.
 */
async function recordInPage({ mimeType, audio: withAudio, timeslice, seconds, bitrate, width, height, fps }) {
  if (!MediaRecorder.isTypeSupported(mimeType)) throw new Error(`MediaRecorder does not support ${mimeType}`);
  const canvas = document.getElementById("c");
  canvas.width = width;
  canvas.height = height;
  // Opaque, as a captured tab is (a canvas with alpha makes Chromium write VP8/VP9 alpha planes).
  const ctx = canvas.getContext("2d", { alpha: false });
  const W = canvas.width, H = canvas.height;

  // A few frames of seeded noise, drawn at a moving offset with moving shapes on top: every frame
  // differs, and noise costs the encoder the whole bitrate, so the file is big and its frames are
  // of similar size (no single giant key frame).
  let seed = 12345;
  const random = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 24; };
  const tiles = [];
  for (let t = 0; t < 4; t++) {
    const image = ctx.createImageData(W, H);
    for (let i = 0; i < image.data.length; i += 4) {
      const v = random();
      image.data[i] = v; image.data[i + 1] = (v * 7) & 255; image.data[i + 2] = 255 - v; image.data[i + 3] = 255;
    }
    tiles.push(image);
  }
  let frame = 0;
  const paint = () => {
    const image = tiles[frame % tiles.length];
    const dx = (frame * 13) % W, dy = (frame * 7) % H;
    ctx.putImageData(image, dx - W, dy - H);
    ctx.putImageData(image, dx, dy - H);
    ctx.putImageData(image, dx - W, dy);
    ctx.putImageData(image, dx, dy);
    ctx.fillStyle = `hsl(${(frame * 9) % 360}, 80%, 50%)`;
    ctx.fillRect((frame * 11) % (W - 80), 40 + ((frame * 5) % (H - 120)), 80, 80);
    ctx.fillStyle = "#fff";
    ctx.font = "48px sans-serif";
    ctx.fillText(String(frame), 20, H - 30);
    frame++;
  };
  paint();
  const timer = setInterval(paint, 1000 / fps);

  const tracks = [...canvas.captureStream(fps).getVideoTracks()];
  let audioContext = null;
  if (withAudio) {
    audioContext = new AudioContext({ sampleRate: 48000 });
    await audioContext.resume();
    const destination = audioContext.createMediaStreamDestination();
    // A silent source from the start so the audio track carries samples at once (Chromium's
    // MediaRecorder waits for audio data before it writes anything when there is an audio track).
    const silence = audioContext.createConstantSource();
    silence.offset.value = 0;
    silence.connect(destination);
    silence.start();
    const tone = audioContext.createOscillator();
    tone.frequency.value = 440;
    const gain = audioContext.createGain();
    gain.gain.value = 0.2;
    tone.connect(gain).connect(destination);
    tone.start();
    tracks.push(...destination.stream.getAudioTracks());
  }
  const stream = new MediaStream(tracks);
  const recorder = new MediaRecorder(stream, { mimeType, videoBitsPerSecond: bitrate, audioBitsPerSecond: 128000 });
  const parts = [];
  recorder.ondataavailable = (event) => { if (event.data && event.data.size) parts.push(event.data); };
  const stopped = new Promise((resolve, reject) => {
    recorder.onstop = resolve;
    recorder.onerror = (event) => reject(new Error(`MediaRecorder error: ${event.error}`));
  });
  if (timeslice) recorder.start(timeslice);
  else recorder.start();                 // no timeslice: one Blob at stop, like the extension
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recorder.stop();
  await stopped;
  clearInterval(timer);
  stream.getTracks().forEach((track) => track.stop());
  if (audioContext) await audioContext.close();

  const blob = new Blob(parts, { type: recorder.mimeType });
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { recorderMimeType: recorder.mimeType, blobs: parts.length, frames: frame, base64: btoa(binary) };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: "string" },
      seconds: { type: "string", default: "4" },
      bitrate: { type: "string", default: "16000000" },
      width: { type: "string", default: "256" },
      height: { type: "string", default: "192" },
      fps: { type: "string", default: "60" },
      chromium: { type: "string", default: "" },
    },
  });
  if (!values.out) throw new Error("--out DIR is required");
  const result = { recordings: {} };
  const profile = mkdtempSync(join(tmpdir(), "recordplus-recordings-chromium-"));
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: values.chromium || findChromium(),
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 700, height: 520 },
    });
    result.browserVersion = context.browser() ? context.browser().version() : null;
    const page = context.pages()[0] || (await context.newPage());
    page.on("console", (message) => log(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log(`pageerror: ${error.message}`));
    await context.route(PAGE_URL, (route) => route.fulfill({ body: PAGE, contentType: "text/html; charset=utf-8" }));
    await page.goto(PAGE_URL);

    result.mp4Support = await page.evaluate(
      (types) => Object.fromEntries(types.map((t) => [t, MediaRecorder.isTypeSupported(t)])), MP4_CANDIDATES);
    for (const spec of positionals) {
      const eq = spec.indexOf("=");
      const name = spec.slice(0, eq);
      const [mimeSpec, ...flags] = spec.slice(eq + 1).split("+");
      let mime = mimeSpec;
      const audio = !flags.includes("noaudio");
      const timeslice = flags.includes("timeslice") ? 1000 : 0;
      if (mime === "auto") {
        mime = MP4_CANDIDATES.find((t) => result.mp4Support[t]);
        if (!mime) throw new Error(`no mp4 type is supported by this Chromium's MediaRecorder: ${JSON.stringify(result.mp4Support)}`);
      }
      log(`recording ${name}: ${mime} audio=${audio} timeslice=${timeslice} for ${values.seconds}s`);
      const recorded = await page.evaluate(recordInPage, {
        mimeType: mime, audio, timeslice, seconds: Number(values.seconds), bitrate: Number(values.bitrate),
        width: Number(values.width), height: Number(values.height), fps: Number(values.fps),
      });
      const bytes = Buffer.from(recorded.base64, "base64");
      const file = join(values.out, `${name}.${mime.startsWith("video/mp4") ? "mp4" : "webm"}`);
      writeFileSync(file, bytes);
      result.recordings[name] = {
        file, mimeType: mime, recorderMimeType: recorded.recorderMimeType, size: bytes.length,
        audio, timeslice, seconds: Number(values.seconds), blobs: recorded.blobs, frames: recorded.frames,
      };
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
