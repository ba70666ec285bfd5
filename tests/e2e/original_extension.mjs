// Run the ORIGINAL RecordPlus Chrome extension (nabil2i/recordplusext, a temporary copy with only
// its base URL changed) in Debian's headless Chromium against a running RecordPlus, the way a user
// would: open its popup, click Start, let it record another tab, switch back, click Stop, and let
// its content script upload. Then wait for the server, and play the result.
//
// Usage: node tests/e2e/original_extension.mjs --extension DIR --api http://127.0.0.1:8000
//        --blob-out FILE [--token T] [--seconds 22] [--ready-timeout 120] [--chromium /path]
//        [--popup-cpu-throttle N]   (slow the Start popup N times, as a loaded machine can: the
//                                    reply race below, reproduced on demand)
//
// How the pieces fit:
// - Loading: `--load-extension` + `--disable-extensions-except` with Playwright's persistent context
//   (Chromium, unlike branded Chrome, still honours them; Playwright's own `--disable-extensions`
//   default is dropped). Playwright's `--headless` is the new headless mode in Chromium >= 132, which
//   runs extensions, their service worker and their popup.
// - The popup: there is no toolbar to click in headless, so `chrome.action.openPopup()` (run in the
//   extension's service worker) opens the real action popup of the focused window, exactly what
//   clicking the toolbar icon does. Playwright does not adopt popup targets, so the driver attaches
//   to it over the browser's CDP session and clicks Start/Stop with Input.dispatchMouseEvent (real,
//   trusted mouse events; a wheel event first when the button is below the popup's fold).
// - The popup messages the active tab of its window; that tab (the "host" page) has content.js,
//   injected by the extension's background.js. content.js calls getDisplayMedia, which Chromium
//   answers with the tab titled --auto-select-tab-capture-source-by-title (the "recorded" tab) and
//   then focuses that tab, which closes the popup. content.js answers ("seen request-recording")
//   before it asks for the display, but whether the popup's callback logs that answer before
//   Chromium closes it is a race that a slow popup renderer loses (--popup-cpu-throttle 40 shows it).
//   So the proof that Start reached content.js is content.js's own log in the host tab ("requesting
//   recording"); the driver reports when the Start popup closed (`startPopupClosedMs`). Before
//   Stop the driver brings the host tab back to the front, waits until Chromium reports it active,
//   and opens the popup again, as a user would.
// - The blob: content.js keeps its slices in a top-level `chunks` array of its isolated world. The
//   driver finds that world over CDP (Runtime.executionContextCreated, the extension's origin and
//   name) and, once the uploads settled, reads `new Blob(chunks)` there: the exact bytes the
//   extension sliced and sent. Nothing is injected into or changed in the extension's code.
// - The host page and the recorded tab are served by this driver on a loopback port under the
//   hostname docs.example.test (mapped with --host-resolver-rules, and declared secure so
//   getDisplayMedia exists), so the content script's requests carry a foreign website's Origin, as
//   they do for real users. The player is served under the API's own origin, like a watch page.
//
// Prints one JSON object on stdout (the facts the pytest asserts on) and exits 0; on a failure it
// prints {"error": ...} with whatever was learnt so far and exits 1. Diagnostics go to stderr.
// It never downloads a browser: playwright-core only drives the Chromium binary it is given.

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const RECORDED_TITLE = "RecordPlus e2e recorded tab";   // <title> of recorded_page.html
const SITE_HOST = "docs.example.test";
const HOST_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Docs: a page the user is reading</title></head>
<body><h1>Some documentation</h1><p>The user opens the RecordPlus popup on this page and records another tab.</p></body></html>`;

function log(...parts) {
  process.stderr.write(`[ext-e2e ${(performance.now() / 1000).toFixed(2)}s] ${parts.join(" ")}\n`);
}

function findChromium() {
  const onPath = execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
  if (!onPath) throw new Error("chromium is not on PATH (apt-get install -y chromium)");
  return realpathSync(onPath);
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      extension: { type: "string" },
      api: { type: "string" },
      token: { type: "string", default: "" },
      "blob-out": { type: "string" },
      seconds: { type: "string", default: "22" },
      "ready-timeout": { type: "string", default: "120" },
      chromium: { type: "string", default: "" },
      "popup-cpu-throttle": { type: "string", default: "1" },
    },
  });
  for (const name of ["extension", "api", "blob-out"]) {
    if (!values[name]) throw new Error(`--${name} is required`);
  }
  return {
    extension: values.extension,
    api: values.api.replace(/\/+$/, ""),
    token: values.token || null,
    blobOut: values["blob-out"],
    seconds: Number(values.seconds),
    readyTimeoutS: Number(values["ready-timeout"]),
    chromiumPath: values.chromium || findChromium(),
    popupCpuThrottle: Number(values["popup-cpu-throttle"]),
  };
}

/** Hide the upload URL's secret in anything printed. */
const redact = (url) => url.replace(/\/u\/[^/]+\//, "/u/<secret>/");

/** Resolve with fn()'s first truthy value, polling; reject after timeoutMs. */
async function until(fn, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function withTimeout(promise, timeoutMs, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs); }),
  ]).finally(() => clearTimeout(timer));
}

/** Serve the host page and the recorded tab on a loopback port. */
async function startSite() {
  const files = {
    "/recorded.html": readFileSync(join(HERE, "recorded_page.html")),
    "/docs.html": Buffer.from(HOST_PAGE),
  };
  const server = createServer((request, response) => {
    const body = files[new URL(request.url, "http://x").pathname];
    response.writeHead(body ? 200 : 404, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    response.end(body || "not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: server.address().port };
}

/**
 * The extension's action popup, opened with chrome.action.openPopup() and driven over a
 * non-flattened CDP session (Target.sendMessageToTarget): Playwright never adopts popup targets.
 */
class Popup {
  static async open(browserCdp, serviceWorker, extensionId) {
    const seen = new Set((await browserCdp.send("Target.getTargets")).targetInfos.map((t) => t.targetId));
    const url = `chrome-extension://${extensionId}/index.html`;
    const appeared = new Promise((resolve) => {
      const check = ({ targetInfo }) => {
        if (targetInfo.type === "page" && targetInfo.url === url && !seen.has(targetInfo.targetId)) resolve(targetInfo);
      };
      browserCdp.on("Target.targetCreated", check);
      browserCdp.on("Target.targetInfoChanged", check);
    });
    await serviceWorker.evaluate(() => chrome.action.openPopup());
    const target = await withTimeout(appeared, 10_000, "the extension popup to open");
    const { sessionId } = await browserCdp.send("Target.attachToTarget", { targetId: target.targetId, flatten: false });
    const popup = new Popup(browserCdp, sessionId, target.targetId);
    await popup.send("Runtime.enable");
    await popup.send("Runtime.runIfWaitingForDebugger");
    return popup;
  }

  constructor(browserCdp, sessionId, targetId) {
    this.cdp = browserCdp;
    this.sessionId = sessionId;
    this.nextId = 1;
    this.pending = new Map();
    this.console = [];
    this.closedMs = null;
    browserCdp.on("Target.targetDestroyed", (event) => {
      if (event.targetId !== targetId || this.closedMs !== null) return;
      this.closedMs = performance.now();
      log("popup closed");
    });
    browserCdp.on("Target.receivedMessageFromTarget", (event) => {
      if (event.sessionId !== sessionId) return;
      const message = JSON.parse(event.message);
      if (message.id && this.pending.has(message.id)) {
        this.pending.get(message.id)(message);
        this.pending.delete(message.id);
      } else if (message.method === "Runtime.consoleAPICalled") {
        const text = message.params.args.map((a) => a.value ?? a.description ?? a.type).join(" ");
        this.console.push(`${message.params.type}: ${text}`);
        log(`popup console.${message.params.type}: ${text}`);
      }
    });
  }

  async send(method, params = {}) {
    const id = this.nextId++;
    const answer = new Promise((resolve) => this.pending.set(id, resolve));
    await this.cdp.send("Target.sendMessageToTarget", { sessionId: this.sessionId, message: JSON.stringify({ id, method, params }) });
    const message = await withTimeout(answer, 15_000, `popup ${method}`);
    if (message.error) throw new Error(`popup ${method}: ${message.error.message}`);
    return message.result;
  }

  async evaluate(expression) {
    const { result, exceptionDetails } = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`popup: ${exceptionDetails.exception?.description || exceptionDetails.text}`);
    return result.value;
  }

  /** Where `selector`'s centre is, once the popup has loaded; null if it is not fully in view. */
  async place(selector) {
    return this.evaluate(`new Promise((resolve) => {
      const measure = () => {
        const box = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect();
        resolve({ x: box.x + box.width / 2, y: box.y + box.height / 2, top: box.top, bottom: box.bottom,
                  viewportWidth: innerWidth, viewportHeight: innerHeight, scrollY });
      };
      if (document.readyState === "complete") measure(); else addEventListener("load", measure, { once: true });
    })`);
  }

  /** Click `selector` with real mouse events, scrolling it into view with the wheel first. */
  async click(selector) {
    let box = await this.place(selector);
    if (box.bottom > box.viewportHeight || box.top < 0) {
      await this.send("Input.dispatchMouseEvent", {
        type: "mouseWheel", x: box.viewportWidth / 2, y: box.viewportHeight / 2, deltaX: 0,
        deltaY: box.bottom - box.viewportHeight + 20,
      });
      box = await until(async () => {
        const now = await this.place(selector);
        return now.bottom <= now.viewportHeight && now.top >= 0 ? now : null;
      }, `${selector} to scroll into the popup's view`, 5_000);
    }
    for (const type of ["mouseMoved", "mousePressed", "mouseReleased"]) {
      const pressing = type !== "mouseMoved";
      await this.send("Input.dispatchMouseEvent", { type, x: box.x, y: box.y, button: pressing ? "left" : "none", buttons: type === "mousePressed" ? 1 : 0, clickCount: pressing ? 1 : 0 });
    }
    return { selector, x: box.x, y: box.y, scrollY: box.scrollY, viewport: [box.viewportWidth, box.viewportHeight] };
  }
}

/** Poll the video's detail until the assembler settles it (ready or failed). */
async function waitForSettled(api, token, videoId, timeoutS) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const deadline = Date.now() + timeoutS * 1000;
  let detail = null;
  const statuses = [];
  while (Date.now() < deadline) {
    const response = await fetch(`${api}/api/record/videos/${videoId}`, { headers });
    if (response.ok) {
      detail = await response.json();
      if (statuses[statuses.length - 1] !== detail.status) statuses.push(detail.status);
      if (detail.status === "ready" || detail.status === "failed") return { detail, statuses };
    } else {
      const text = await response.text();
      if (statuses[statuses.length - 1] !== `HTTP ${response.status}`) statuses.push(`HTTP ${response.status}`);
      log(`detail of video ${videoId}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw Object.assign(new Error(`video ${videoId} not settled after ${timeoutS}s (statuses seen: ${statuses.join(" -> ")})`), { detail });
}

async function main() {
  const options = parseOptions();
  const result = { options: { ...options, token: options.token ? "<set>" : null } };
  const profile = mkdtempSync(join(tmpdir(), "recordplus-ext-e2e-chromium-"));
  const { server, port } = await startSite();
  const site = `http://${SITE_HOST}:${port}`;
  result.siteOrigin = site;
  let context = null;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: options.chromiumPath,
      headless: true,
      // Playwright disables extensions by default, and mutes audio in headless: the tone must
      // reach the tab capture.
      ignoreDefaultArgs: ["--disable-extensions", "--mute-audio"],
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        `--disable-extensions-except=${options.extension}`,
        `--load-extension=${options.extension}`,
        `--auto-select-tab-capture-source-by-title=${RECORDED_TITLE}`,
        // A foreign website on loopback: its own hostname, treated as secure like https would be.
        `--host-resolver-rules=MAP ${SITE_HOST} 127.0.0.1`,
        `--unsafely-treat-insecure-origin-as-secure=${site}`,
        "--window-size=720,480",
      ],
      viewport: null,
    });
    result.browserVersion = context.browser() ? context.browser().version() : null;

    // The extension: its service worker tells its id.
    const serviceWorker = context.serviceWorkers()[0] || (await context.waitForEvent("serviceworker", { timeout: 15_000 }));
    const extensionId = new URL(serviceWorker.url()).host;
    result.extension = { id: extensionId, serviceWorker: serviceWorker.url(),
                         manifest: await serviceWorker.evaluate(() => chrome.runtime.getManifest()) };
    log(`extension ${extensionId} loaded in Chromium ${result.browserVersion}`);

    // The host page, where the user opens the popup and where content.js runs.
    const host = context.pages()[0] || (await context.newPage());
    const hostCdp = await context.newCDPSession(host);
    const contentScript = result.contentScript = { console: [], exceptions: [] };
    let isolatedId = null;
    hostCdp.on("Runtime.executionContextCreated", ({ context: c }) => {
      if (c.auxData?.type === "isolated" && c.origin === `chrome-extension://${extensionId}`) isolatedId = c.id;
    });
    hostCdp.on("Runtime.consoleAPICalled", (event) => {
      if (event.executionContextId !== isolatedId) return;
      const text = event.args.map((a) => a.value ?? a.description ?? a.className ?? a.type).join(" ");
      contentScript.console.push(`${event.type}: ${text}`);
      log(`content.js console.${event.type}: ${text}`);
    });
    hostCdp.on("Runtime.exceptionThrown", ({ exceptionDetails }) => {
      const text = exceptionDetails.exception?.description || exceptionDetails.text;
      contentScript.exceptions.push(text.split("\n")[0]);
      log(`content.js exception: ${text}`);
    });
    await hostCdp.send("Runtime.enable");
    const inContentScript = async (expression) => {
      const { result: value, exceptionDetails } = await hostCdp.send("Runtime.evaluate", {
        expression, contextId: isolatedId, awaitPromise: true, returnByValue: true,
      });
      if (exceptionDetails) throw new Error(`content script: ${exceptionDetails.exception?.description || exceptionDetails.text}`);
      return value.value;
    };

    // Every request content.js makes to the server: when it started and settled, and how.
    const uploads = result.uploads = [];
    const uploadBase = await extensionBaseUrl(options.extension);
    result.extension.uploadBase = redact(uploadBase);
    const records = new Map();
    const settledUploads = () => uploads.filter((u) => u.settledMs !== null).length;
    const settle = (request, failure) => {
      const record = records.get(request);
      if (!record || record.settledMs !== null) return;
      record.settledMs = performance.now();
      record.failure = failure;
      record.settledRank = settledUploads() - 1;
    };
    host.on("request", (request) => {
      if (!request.url().startsWith(uploadBase)) return;
      const record = { order: uploads.length, method: request.method(), url: redact(request.url()), startedMs: performance.now(),
                       settledMs: null, settledRank: null, status: null, failure: null, contentLength: null };
      records.set(request, record);
      uploads.push(record);
      request.allHeaders().then((h) => { record.contentLength = h["content-length"] ? Number(h["content-length"]) : null; }, () => {});
    });
    host.on("response", (response) => {
      const record = records.get(response.request());
      if (record) record.status = response.status();
    });
    host.on("requestfinished", (request) => settle(request, null));
    host.on("requestfailed", (request) => settle(request, request.failure()?.errorText || "failed"));

    await host.goto(`${site}/docs.html`);
    await until(() => isolatedId !== null, "background.js to inject content.js into the host page", 10_000);
    log(`content.js runs in the host page (isolated world ${isolatedId})`);

    // The tab to record, behind the host page in the same window.
    const recordedUrl = `${site}/recorded.html`;
    const recordedOpened = context.waitForEvent("page", { timeout: 10_000 });
    await serviceWorker.evaluate(async (url) => {
      const [active] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
      await chrome.tabs.create({ url, active: false, windowId: active.windowId });
    }, recordedUrl);
    const recorded = await recordedOpened;
    await recorded.waitForLoadState("load");
    result.toneState = await recorded.evaluate(() => window.toneStarted);
    const tabs = async () => serviceWorker.evaluate(async () =>
      (await chrome.tabs.query({})).map((t) => ({ id: t.id, windowId: t.windowId, active: t.active, url: t.url, title: t.title })));
    const activeUrl = async () => ((await tabs()).find((t) => t.active && t.url.startsWith("http")) || {}).url;
    result.tabsBeforeStart = await tabs();

    // Start: popup, real click. content.js asks for the display, Chromium picks the recorded tab.
    const browserCdp = await context.browser().newBrowserCDPSession();
    await browserCdp.send("Target.setDiscoverTargets", { discover: true });
    const startPopup = await Popup.open(browserCdp, serviceWorker, extensionId);
    if (options.popupCpuThrottle > 1) await startPopup.send("Emulation.setCPUThrottlingRate", { rate: options.popupCpuThrottle });
    result.startClick = await startPopup.click("button#start-recording-button");
    const recordingStartedMs = await inContentScript(`new Promise((resolve, reject) => {
      const deadline = performance.now() + 15000;
      const poll = setInterval(() => {
        if (recorder && recorder.state === "recording") { clearInterval(poll); resolve(performance.now()); }
        else if (performance.now() > deadline) { clearInterval(poll); reject(new Error("MediaRecorder never started")); }
      }, 10);
    })`);
    const startedAt = performance.now();
    // The recorded tab's clock once recording runs (read a little after the capture began). The
    // capture's first frame can be older than this: a background tab's last painted frame.
    result.clockAtCaptureStart = await recorded.evaluate(() => window.clockNow());
    result.recorder = await inContentScript(`({ mimeType: recorder.mimeType, videoBitsPerSecond: recorder.videoBitsPerSecond,
      tracks: recorder.stream.getTracks().map((t) => ({ kind: t.kind, label: t.label, settings: t.getSettings() })) })`);
    log(`recording: ${JSON.stringify(result.recorder.tracks.map((t) => `${t.kind} ${t.label} ${t.settings.width || ""}x${t.settings.height || ""}`))}`);
    // Chromium brings the captured tab to the front once capture starts.
    result.activeAfterStart = await until(async () => {
      const url = await activeUrl();
      return url === recordedUrl ? url : null;
    }, "Chromium to focus the captured tab", 10_000);
    result.startPopupConsole = startPopup.console;

    // Record. The length of the recording is the one deliberate wait.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.seconds * 1000 - (performance.now() - startedAt))));

    // Back to the page with the recorder (the popup talks to the active tab), then Stop.
    await host.bringToFront();
    result.activeBeforeStop = await until(async () => {
      const url = await activeUrl();
      return url === `${site}/docs.html` ? url : null;
    }, "the host tab to be active again", 10_000);
    const stopped = inContentScript(`new Promise((resolve) => recorder.addEventListener("stop", () => resolve(performance.now()), { once: true }))`);
    // Chromium closed the Start popup when it focused the captured tab (null: it is still open).
    result.startPopupClosedMs = startPopup.closedMs;
    const stopPopup = await Popup.open(browserCdp, serviceWorker, extensionId);
    result.stopClick = await stopPopup.click("button#stop-recording-button");
    const recordingStoppedMs = await withTimeout(stopped, 15_000, "MediaRecorder to stop");
    result.stopPopupConsole = stopPopup.console;
    result.recordedSeconds = (recordingStoppedMs - recordingStartedMs) / 1000;
    log(`recorded ${result.recordedSeconds.toFixed(3)} s`);

    // content.js slices its blob, POSTs the first slice, and once it has the id fires the rest.
    const sliced = await until(() => inContentScript("chunks.length > 0 ? { pieces: chunks.length, mimeType: recorder.mimeType } : null"),
      "content.js to slice the recording", 15_000);
    await until(() => uploads.length >= 1 && uploads[0].settledMs !== null, "the first POST to settle", 30_000);
    // content.js reports a failed POST (network error, CORS, non-JSON answer) with console.error.
    const videoId = await until(async () => (await inContentScript("videoId")) ??
      (contentScript.console.some((line) => line.startsWith("error:")) ? -1 : null), "content.js to learn the video id", 15_000);
    if (videoId === -1) {
      throw new Error(`the extension never learnt a video id: POST answered ${uploads[0].status} ${uploads[0].failure || ""}; ` +
        `content.js said: ${contentScript.console.filter((line) => line.startsWith("error:")).join(" | ")}`);
    }
    result.videoId = videoId;
    const expected = sliced.pieces + 1;   // POST + one PATCH per further piece + finalize
    await until(() => settledUploads() >= expected, `${expected} upload requests to settle`, 60_000);
    result.recorder.mimeType = sliced.mimeType;
    log(`video ${videoId}: ${sliced.pieces} pieces; ${uploads.length} requests settled`);

    // The exact bytes content.js sliced and sent: its `chunks`, joined.
    const blob = await inContentScript(`(async () => {
      const pieces = await Promise.all(chunks.map(async (c) => {
        const bytes = new Uint8Array(await c.arrayBuffer());
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        return { size: bytes.length, sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("") };
      }));
      const all = new Uint8Array(await new Blob(chunks).arrayBuffer());
      let binary = "";
      for (let i = 0; i < all.length; i += 0x8000) binary += String.fromCharCode.apply(null, all.subarray(i, i + 0x8000));
      return { pieces, type: new Blob(chunks).type, base64: btoa(binary) };
    })()`);
    const bytes = Buffer.from(blob.base64, "base64");
    writeFileSync(options.blobOut, bytes);
    result.blob = { size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex"), pieces: blob.pieces };
    log(`blob: ${bytes.length} bytes in ${blob.pieces.length} pieces`);

    // The server's side: poll until the assembler settles the video.
    const settled = await waitForSettled(options.api, options.token, videoId, options.readyTimeoutS);
    result.detail = settled.detail;
    result.statuses = settled.statuses;
    if (result.detail.status !== "ready") {
      // Not the harness's failure: report it, the pytest says what it means.
      log(`video ${videoId} ended ${result.detail.status}: ${result.detail.error}`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return 0;
    }
    result.playback = await play(context, options, videoId);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    result.error = String(error && error.stack ? error.stack : error);
    if (error && error.detail) result.detail = error.detail;
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 1;
  } finally {
    if (context) await context.close().catch(() => {});
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Play the finished video as a viewer: load stream_video, read the first frame's clock, seek to
 * the middle and near the end and read the clock shown, then play on for a second. A media error
 * is a finding, not a harness failure: it lands in `error`.
 */
async function play(context, options, videoId) {
  // The viewer watches on RecordPlus's own origin (the server never opens reads to foreign
  // origins), so the player page is served under the API's origin, as the watch page would be.
  const apiOrigin = new URL(options.api).origin;
  const playerUrl = `${apiOrigin}/__e2e__/original_extension_player.html`;
  const player = await context.newPage();
  player.on("console", (message) => log(`player console.${message.type()}: ${message.text()}`));
  // Chromium's Local Network Access guard takes a page Playwright fulfils for a public one and
  // would block the cluster's redirect to presigned S3 on loopback; a deployed server and its
  // bucket share an address space, which the permission reproduces.
  await context.grantPermissions(["local-network-access"], { origin: apiOrigin });
  await player.route((url) => url.origin === apiOrigin, (route) => {
    if (route.request().url() === playerUrl) {
      return route.fulfill({ path: join(HERE, "original_extension_player.html"), contentType: "text/html; charset=utf-8" });
    }
    // A <video> cannot send a bearer token: add it to the API's requests only (not to storage).
    const headers = { ...route.request().headers() };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    return route.continue({ headers });
  });
  await player.goto(playerUrl);
  await player.bringToFront();
  const video = player.locator("#player");
  const clockShown = async () => player.evaluate((png) => window.readClockFromPng(png), (await video.screenshot({ type: "png" })).toString("base64"));
  const playback = { seeks: [], play: null, error: null };
  try {
    playback.load = await player.evaluate((src) => window.loadVideo(src), `${options.api}/api/record/videos/${videoId}/stream_video/`);
    playback.clockAtStart = await clockShown();
    const duration = playback.load.duration;
    if (!Number.isFinite(duration)) return playback;
    for (const fraction of [0.5, 0.8]) {
      const seek = await player.evaluate((t) => window.seekVideo(t), duration * fraction);
      seek.clockShown = await clockShown();
      playback.seeks.push(seek);
    }
    playback.play = await player.evaluate((s) => window.playFor(s), 1.0);
  } catch (error) {
    playback.error = String(error && error.message ? error.message : error);
  }
  return playback;
}

/** The base URL the copy of content.js posts to (its `videos/` POST), read from the copy itself. */
async function extensionBaseUrl(directory) {
  const source = readFileSync(join(directory, "content.js"), "utf8");
  const live = source.split("\n").filter((line) => !line.trim().startsWith("//")).join("\n");
  const match = live.match(/fetch\("([^"]+)videos\/"/);
  if (!match) throw new Error("cannot find the POST videos/ URL in the extension's content.js");
  return match[1];
}

process.exitCode = await main();
