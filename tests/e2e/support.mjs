// Shared parts of the end-to-end suites: a static server for dist/, and Chromium set up for
// WebRTC on loopback.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { extname, join, normalize, resolve } from "node:path";
import { before, after } from "node:test";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
export const screenshots = join(root, "target/e2e-screenshots");

const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

/**
 * Serves `dir` under the URL path `prefix` ("/a/b/") on a loopback `port` (a free one if 0), as
 * GitHub Pages would: unknown paths get 404.html with status 404. Cross-origin isolation headers
 * make performance.now() precise. Resolves to { url, close }.
 */
export async function serveStatic(dir, prefix = "/", port = 0) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    const headers = {
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    };
    if (!path.startsWith(prefix)) {
      res.writeHead(404, headers).end("outside the served prefix");
      return;
    }
    let file = normalize(join(dir, path.slice(prefix.length)));
    if (!file.startsWith(dir)) {
      res.writeHead(403, headers).end();
      return;
    }
    if (path.endsWith("/")) file = join(file, "index.html");
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      const body = await readFile(join(dir, "404.html")).catch(() => "not found");
      res.writeHead(404, { ...headers, "content-type": types[".html"] }).end(body);
    }
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${server.address().port}${prefix}`;
  return { url, close: () => new Promise((ok) => server.close(ok)) };
}

/**
 * Debian's Chromium, headless, with what WebRTC between pages on loopback needs, and any
 * `extraArgs`. `executablePath` may name a script that starts Chromium another way (the NAT
 * lab's start it in a home's network namespace).
 */
export async function launchBrowser(extraArgs = [], executablePath = "/usr/bin/chromium") {
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--allow-loopback-in-peer-connection",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      // Host candidates as 127.0.0.1 rather than mDNS names nothing here resolves. The switch is
      // last-wins, and this one comes after Playwright's own list.
      "--disable-features=WebRtcHideLocalIpsWithMdns,Translate,OptimizationHints,MediaRouter",
      ...extraArgs,
    ],
  });
}

/** A new page in its own context, allowed what Chromium needs to gather loopback candidates. */
export async function newPage(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, permissions: ["microphone", "camera"] });
  return newTab(context);
}

/**
 * Another tab in `context`, as a person opens a second tab or window of the same browser: it
 * shares the context's storage and locks. Collects the page's errors in `problems`.
 */
export async function newTab(context) {
  const page = await context.newPage();
  return { page, context, problems: watchProblems(page) };
}

/**
 * The page's uncaught errors, console errors, failed requests and HTTP errors, collected as they
 * happen into the returned array. Playwright's and puppeteer's pages name these events alike.
 * `ignore(url)` exempts a response the browser asked for by itself.
 */
export function watchProblems(page, ignore = () => false) {
  const problems = [];
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Failed loads are reported below with their URL; a 404 page's own status is no problem.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()}`));
  page.on("response", (response) => {
    if (response.status() >= 400 && !response.request().isNavigationRequest() && !ignore(response.url())) {
      problems.push(`HTTP ${response.status()}: ${response.url()}`);
    }
  });
  return problems;
}

/** Saves a full-page screenshot as target/e2e-screenshots/NAME.png and returns its path. */
export async function screenshot(page, name) {
  await mkdir(screenshots, { recursive: true });
  const path = join(screenshots, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Runs axe-core on the page as it is now; resolves to { passes, violations } (violations as text). */
export async function checkAccessibility(page) {
  // Evaluated through the debugging protocol: the page's Content-Security-Policy rightly
  // refuses an injected <script>.
  await page.evaluate(readFileSync(join(root, "node_modules/axe-core/axe.min.js"), "utf8"));
  return page.evaluate(async () => {
    const result = await window.axe.run(document);
    return {
      passes: result.passes.length,
      violations: result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(", ")})`),
    };
  });
}

/** Waits until the page's peer list shows exactly `ids` as connected. */
export async function waitForConnected(page, ids, timeout = 20_000) {
  await page.waitForFunction(
    (want) => {
      const have = [...document.querySelectorAll("[data-testid=peer-list] li[data-state=connected]")]
        .map((li) => li.dataset.peerId)
        .sort();
      return JSON.stringify(have) === JSON.stringify(want);
    },
    [...ids].sort(),
    { timeout },
  );
}

/** Sends `text` from the page's composer to the room, or to the peer `to`. */
export async function send(page, text, to) {
  await page.getByLabel("Send to").selectOption(to ?? "");
  await page.getByRole("textbox", { name: "Message" }).fill(text);
  await page.getByRole("button", { name: "Send", exact: true }).click();
}

/**
 * The usual set-up of a suite of pages: the release build served at `prefix`, one Chromium,
 * and every page opened with `suite.open(url)` closed at the end.
 */
export function pageSuite(prefix = "/") {
  const suite = {
    server: null,
    browser: null,
    pages: [],
    async open(path = "") {
      const p = await newPage(suite.browser);
      suite.pages.push(p);
      await p.page.goto(`${suite.server.url}${path}`);
      return p;
    },
  };
  before(async () => {
    suite.server = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"), prefix);
    suite.browser = await launchBrowser();
  });
  after(async () => {
    for (const p of suite.pages) await p.context.close().catch(() => {});
    await suite.browser?.close();
    await suite.server?.close();
  });
  return suite;
}

/** The peer ID the page registered, once it has. */
export async function registeredId(page, timeout = 20_000) {
  const signaling = page.getByTestId("signaling");
  await signaling.filter({ hasText: "registered as" }).waitFor({ timeout });
  return /registered as (\S+)/.exec(await signaling.textContent())[1];
}

/**
 * The release build of the app and, for the PeerJS page, the repository root, each served on
 * loopback; one Chromium with `extraArgs`; every tab closed at the end. `suite.openApp()`
 * resolves to an app tab registered on the local PeerServer, `suite.openPeerjs()` to a tab whose
 * real PeerJS 1.5.5 client (`window.pj`, tests/e2e/interop/peerjs-peer.js) is registered there
 * (under `wantedId` if given): each `{ page, context, problems, id }`.
 */
export function appAndPeerjsSuite(extraArgs = []) {
  const peerServer = process.env.SEEDMESH_PEERSERVER_URL;
  const wait = { timeout: 20_000 };
  const servers = {};
  let browser;
  const opened = [];
  const open = async (url) => {
    const tab = await newPage(browser);
    opened.push(tab);
    await tab.page.goto(url);
    return tab;
  };
  before(async () => {
    if (!peerServer) throw new Error("SEEDMESH_PEERSERVER_URL is not set: run through scripts/browser-tests.sh");
    servers.app = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"), "/");
    servers.root = await serveStatic(root, "/");
    browser = await launchBrowser(extraArgs);
  });
  after(async () => {
    for (const { context } of opened) await context.close().catch(() => {});
    await browser?.close();
    await servers.app?.close();
    await servers.root?.close();
  });
  return {
    async openApp() {
      const tab = await open(servers.app.url);
      return { ...tab, id: await registeredId(tab.page) };
    },
    async openPeerjs(wantedId = null) {
      const tab = await open(`${servers.root.url}tests/e2e/interop/peerjs.html`);
      await tab.page.waitForFunction(() => typeof window.pj === "object" && typeof peerjs === "object", null, wait);
      const id = await tab.page.evaluate(([url, id]) => pj.open(url, id, [], false), [peerServer, wantedId]);
      return { ...tab, id };
    },
  };
}

/** FNV-1a, 32 bits, as the PeerJS page (tests/e2e/interop/peerjs-peer.js) computes it. */
export function fnv(bytes) {
  let hash = 0x811c9dc5;
  for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
  return hash.toString(16);
}

/** `len` bytes of a pattern that `seed` shifts, as the PeerJS page's `sendMadeBytes` makes them. */
export const madeBytes = (len, seed) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) % 256);
