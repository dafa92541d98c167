// Firefox and Chromium together: a page in stock Firefox ESR and a page in Chromium find each
// other through the local stack with nothing configured, prove their keys, chat and pass 5 MiB
// files both ways; and the app in either browser talks to a real PeerJS 1.5.5 client in the
// other.
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fnv, madeBytes, root, serveStatic, launchBrowser, newPage } from "./support.mjs";
import { connectedRow, delivered, launchFirefox, pathTo, registered, send, shown, Tab } from "./firefox.mjs";

const peerServer = process.env.SEEDMESH_PEERSERVER_URL;
const FILE_BYTES = 5 * 1024 * 1024;

let servers = {};
let chromium;
let firefox;
let tabs = [];

before(async () => {
  if (!peerServer) throw new Error("SEEDMESH_PEERSERVER_URL is not set: run through scripts/browser-tests.sh");
  servers.app = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"), "/");
  servers.root = await serveStatic(root, "/");
  chromium = await launchBrowser();
  firefox = await launchFirefox();
});

after(async () => {
  await firefox?.close();
  await chromium?.close();
  await servers.app?.close();
  await servers.root?.close();
});

// No page of either browser may throw or log an error.
afterEach(async () => {
  const problems = tabs.flatMap((tab) => tab.problems.map((p) => `${tab.kind}: ${p}`));
  await Promise.all(tabs.map((tab) => tab.close().catch(() => {})));
  tabs = [];
  assert.deepEqual(problems, []);
});

/** A new tab of `kind` ("firefox" or "chromium") at `url`. */
async function open(kind, url) {
  const tab = kind === "firefox" ? await Tab.firefox(firefox) : Tab.chromium(await newPage(chromium));
  tabs.push(tab);
  await tab.goto(url);
  return tab;
}

/** The app in a new tab of `kind`, once it registered; the tab, with its `id`. */
async function openApp(kind) {
  return registered(await open(kind, servers.app.url));
}

/** A real PeerJS client in a new tab of `kind`, registered on the local PeerServer. */
async function openPeerjs(kind) {
  const tab = await open(kind, `${servers.root.url}tests/e2e/interop/peerjs.html`);
  await tab.until("PeerJS", () => typeof window.pj === "object" && typeof peerjs === "object");
  tab.id = await tab.evaluate((url) => pj.open(url, null, [], false), peerServer);
  return tab;
}

/** Sends a file of `bytes` called `name` from the app's composer to `to`. */
async function sendFile(tab, name, bytes, to) {
  const dir = join(root, "target/e2e-files");
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, bytes);
  await tab.select("#message-to", to);
  await tab.chooseFile("form.composer input[type=file]", path);
}

/** The length and FNV-1a hash of the received file `name`, once it can be downloaded. */
function receivedFile(tab, name) {
  return tab.until(`the file ${name}`, async (name) => {
    const item = [...document.querySelectorAll("[data-testid=file]")].find((f) => f.textContent.includes(name));
    const link = item?.querySelector("a.download");
    if (!link) return null;
    const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
    let hash = 0x811c9dc5;
    for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
    return { len: bytes.length, fnv: hash.toString(16) };
  }, name, 90_000);
}

/** Waits until the app's own line for the file `name` says it was sent. */
function fileSent(tab, name) {
  return tab.until(`${name} sent`, (name) =>
    [...document.querySelectorAll("li.mine [data-testid=file]")].some((f) => f.textContent.includes(name) && f.textContent.includes("sent")),
  name, 90_000);
}

test("a Firefox page and a Chromium page find each other with nothing configured, prove their keys and chat", { timeout: 120_000 }, async () => {
  const f = await openApp("firefox");
  const c = await openApp("chromium");
  const seenByChromium = await connectedRow(c, f.id);
  const seenByFirefox = await connectedRow(f, c.id);
  assert.equal(seenByChromium.verified, true);
  assert.equal(seenByFirefox.verified, true);
  assert.equal(await pathTo(c, f.id), "direct");
  assert.equal(await pathTo(f, c.id), "direct");
  await send(f, "hello from Firefox");
  assert.deepEqual(await shown(c, "hello from Firefox"), { from: seenByChromium.name, scope: "to the room" });
  await delivered(f, "hello from Firefox", "delivered to 1 of about 1");
  await send(c, "hello from Chromium", f.id);
  assert.deepEqual(await shown(f, "hello from Chromium"), { from: seenByFirefox.name, scope: "to you only" });
  await delivered(c, "hello from Chromium", "delivered to 1 of 1");
  console.log("screenshot:", await f.screenshot("firefox-desktop"));
  await f.setViewport({ width: 390, height: 844 });
  console.log("screenshot:", await f.screenshot("firefox-phone"));
});

test("5 MiB files go both ways between Firefox and Chromium", { timeout: 240_000 }, async () => {
  const f = await openApp("firefox");
  const c = await openApp("chromium");
  await connectedRow(c, f.id);
  await connectedRow(f, c.id);
  const fromFirefox = madeBytes(FILE_BYTES, 5);
  await sendFile(f, "from-firefox.bin", fromFirefox, c.id);
  assert.deepEqual(await receivedFile(c, "from-firefox.bin"), { len: FILE_BYTES, fnv: fnv(fromFirefox) });
  await fileSent(f, "from-firefox.bin");
  const fromChromium = madeBytes(FILE_BYTES, 11);
  await sendFile(c, "from-chromium.bin", fromChromium, f.id);
  assert.deepEqual(await receivedFile(f, "from-chromium.bin"), { len: FILE_BYTES, fnv: fnv(fromChromium) });
  await fileSent(c, "from-chromium.bin");
});

for (const [app, client] of [["firefox", "chromium"], ["chromium", "firefox"]]) {
  test(`the app in ${app} and a PeerJS client in ${client} chat, and pass 1 MiB both ways`, { timeout: 120_000 }, async () => {
    const a = await openApp(app);
    const j = await openPeerjs(client);
    const handle = await j.evaluate((to) => pj.connect(to, "binary"), a.id);
    const row = await connectedRow(a, j.id);
    assert.equal(row.client, true);
    assert.equal(row.verified, false);

    await j.evaluate(([h, text]) => pj.send(h, text), [handle, `hello from PeerJS in ${client}`]);
    assert.deepEqual(await shown(a, `hello from PeerJS in ${client}`), { from: j.id, scope: "to you only" });
    await send(a, `hello from the app in ${app}`, j.id);
    const next = () => j.evaluate((h) => pj.nextMessage(h, 20_000), handle);
    assert.deepEqual(await next(), { kind: "text", value: `hello from the app in ${app}` });

    const outgoing = madeBytes(1024 * 1024, 7);
    await sendFile(a, "to-peerjs.bin", outgoing, j.id);
    assert.deepEqual(await next(), { kind: "bytes", len: outgoing.length, fnv: fnv(outgoing) });
    await j.evaluate(([h, len]) => pj.sendMadeBytes(h, len, 3), [handle, 1024 * 1024]);
    assert.deepEqual(await receivedFile(a, "peerjs-data"), { len: 1024 * 1024, fnv: fnv(madeBytes(1024 * 1024, 3)) });
    assert.deepEqual(await j.evaluate(() => pj.errors), []);
  });
}
