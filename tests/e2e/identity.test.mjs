// Identities are proven, never taken from what a peer says. A peer that says hello on its own
// connection as another page is refused, and the page says so; each page shows the others'
// key fingerprints, which match their own; a key moved to another browser brings its ID along.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { root, serveStatic, screenshot, waitForConnected, registeredId, pageSuite, newPage } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const suite = pageSuite();
const peerServer = process.env.SEEDMESH_PEERSERVER_URL;
let harnessServer;

before(async () => {
  assert.ok(peerServer, "SEEDMESH_PEERSERVER_URL is not set: run through scripts/browser-tests.sh");
  harnessServer = await serveStatic(root, "/");
});

after(async () => {
  await harnessServer?.close();
});

/** A page with a bare seedmesh peer on the PeerServer, which says what the test tells it to. */
async function rogue() {
  const p = await newPage(suite.browser);
  suite.pages.push(p);
  await p.page.goto(`${harnessServer.url}tests/e2e/interop/seedmesh.html`);
  await p.page.waitForFunction(() => window.harnessReady === true, null, WAIT);
  const id = await p.page.evaluate((url) => harness.connect(url, null, null, "[]", false), peerServer);
  return { ...p, id };
}

let a;
let b;
let ids;

test("each page shows the other's key fingerprint, the same one the other shows for itself", async () => {
  a = await suite.open();
  b = await suite.open();
  ids = [await registeredId(a.page), await registeredId(b.page)];
  await waitForConnected(a.page, [ids[1]]);
  await waitForConnected(b.page, [ids[0]]);
  const row = (page, id) => page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"]`);
  const seenByA = await row(a.page, ids[1]).getByTestId("peer-key").textContent();
  const seenByB = await row(b.page, ids[0]).getByTestId("peer-key").textContent();
  assert.equal(seenByA, (await b.page.getByTestId("own-key").textContent()).trim());
  assert.equal(seenByB, (await a.page.getByTestId("own-key").textContent()).trim());
  assert.match(await row(a.page, ids[1]).textContent(), /verified/);
});

test("a peer that says hello as another page is refused, and the page says so", async () => {
  const mallory = await rogue();
  // Mallory connects to A with her own ID on the PeerServer, then says she is B: first with no
  // proof, then with a made-up one.
  const hellos = [
    { type: "hello", id: ids[1], name: "B", version: 2, seen: false },
    { type: "hello", id: ids[1], name: "B", version: 2, seen: false, key: "A".repeat(43), sig: "A".repeat(86) },
  ];
  for (const hello of hellos) {
    const handle = await mallory.page.evaluate((to) => harness.dial(to, "json", null), ids[0]);
    await mallory.page.evaluate(([h, v]) => harness.send_json(h, JSON.stringify(v)), [handle, hello]);
    // Whatever she says next counts for nobody.
    const chat = { type: "chat", id: "forged-1", text: "this is B, honest", sent_at: 1, direct: false };
    await mallory.page
      .evaluate(([h, v]) => harness.send_json(h, JSON.stringify(v)), [handle, chat])
      .catch(() => {});
  }
  const warnings = a.page.getByTestId("warnings");
  await warnings.filter({ hasText: "sent no proof of who it is" }).waitFor(WAIT);
  await warnings.filter({ hasText: /its key is (not an ed25519 public key|that of)/ }).waitFor(WAIT);
  const text = await warnings.textContent();
  assert.match(text, new RegExp(`Closed the link to ${mallory.id}`));
  console.log("warnings:", text);
  // B is still B, and the only peer A lists; nothing Mallory said shows as B's.
  await waitForConnected(a.page, [ids[1]]);
  assert.equal(await a.page.locator(".message-text", { hasText: "this is B, honest" }).count(), 0);
  console.log("screenshot:", await screenshot(a.page, "identity-refused-desktop"));
});

test("a key exported from one browser brings its ID to another", async () => {
  await a.page.locator("summary", { hasText: "Your key" }).click();
  const key = await a.page.getByTestId("key-export").inputValue();
  assert.match(key, /^seedmesh-key-v1:[A-Za-z0-9_-]{43}$/);
  await a.context.close();
  // Another browser profile; the key is pasted at phone width.
  const c = await newPage(suite.browser);
  suite.pages.push(c);
  await c.page.goto(suite.server.url);
  const before = await registeredId(c.page);
  assert.notEqual(before, ids[0]);
  await c.page.setViewportSize({ width: 390, height: 844 });
  await c.page.getByRole("button", { name: "Settings" }).click();
  await c.page.locator("summary", { hasText: "Your key" }).click();
  await c.page.getByLabel("Use a key from another browser").fill("seedmesh-key-v1:not-a-key");
  await c.page.getByRole("button", { name: "Use this key" }).click();
  await c.page.getByTestId("key-import-error").filter({ hasText: "not an exported seedmesh key" }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(c.page, "identity-key-phone"));
  await c.page.getByLabel("Use a key from another browser").fill(key);
  await c.page.getByRole("button", { name: "Use this key" }).click();
  await c.page.setViewportSize({ width: 1280, height: 800 });
  // The page loads again under the imported key's ID, and B links with it as A.
  await c.page.waitForFunction(
    (id) => document.querySelector("[data-testid=signaling]")?.textContent.includes(`registered as ${id}`),
    ids[0],
    { timeout: 30_000 },
  );
  await waitForConnected(b.page, [ids[0]], 30_000);
});
