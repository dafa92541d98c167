// Pages of the release build meet with zero configuration on the local stack: discovery from the
// dev zone over DoH, a real PeerServer, real WebRTC between separate pages.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { root, serveStatic, launchBrowser, newPage, screenshot, checkAccessibility, send } from "./support.mjs";

const WAIT = { timeout: 20_000 };
let server;
let browser;
const pages = [];

before(async () => {
  server = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"), "/");
  browser = await launchBrowser();
});

after(async () => {
  for (const p of pages) await p.context.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

const connectedPeers = (page) => page.locator("[data-testid=peer-list] li[data-state=connected]");
const ownId = async (page) => {
  const text = await page.getByTestId("signaling").textContent();
  return /registered as (\S+)/.exec(text)?.[1];
};
const messageTexts = (page) => page.locator("[data-testid=messages] .message-text").allTextContents();

async function waitForPeers(page, count) {
  await page.waitForFunction(
    (n) => document.querySelectorAll("[data-testid=peer-list] li[data-state=connected]").length === n,
    count,
    WAIT,
  );
}

test("four pages with nothing configured all find each other", async () => {
  for (let i = 0; i < 4; i++) {
    const p = await newPage(browser);
    await p.page.goto(server.url);
    pages.push(p);
  }
  for (const { page } of pages) await waitForPeers(page, 3);
  const ids = await Promise.all(pages.map(({ page }) => ownId(page)));
  assert.equal(new Set(ids).size, 4);
  for (const [i, { page }] of pages.entries()) {
    const listed = await connectedPeers(page).evaluateAll((items) => items.map((li) => li.dataset.peerId));
    assert.deepEqual(listed.sort(), ids.filter((_, j) => j !== i).sort());
    assert.match(await page.getByTestId("discovery").textContent(), /answered by http:\/\/127\.0\.0\.1:\d+\/dns-query/);
  }
});

test("a room message reaches every page and reports its delivery", async () => {
  await send(pages[0].page, "hello room");
  for (const { page } of pages.slice(1)) {
    await page.locator(".message-text", { hasText: "hello room" }).waitFor(WAIT);
  }
  // The counts come back up the gossip's tree; the room's size is an estimate.
  await pages[0].page.getByTestId("delivery").filter({ hasText: "delivered to 3 of about 3" }).waitFor(WAIT);
});

test("a direct message reaches only its peer", async () => {
  const target = await ownId(pages[2].page);
  await send(pages[1].page, "just for you", target);
  await pages[2].page.locator(".message-text", { hasText: "just for you" }).waitFor(WAIT);
  await pages[1].page.getByTestId("delivery").filter({ hasText: "delivered to 1 of 1" }).waitFor(WAIT);
  for (const i of [0, 3]) assert.ok(!(await messageTexts(pages[i].page)).includes("just for you"), `page ${i}`);
});

test("HTML in a message shows as text", async () => {
  await send(pages[3].page, "<b>bold?</b><img src=x onerror=alert(1)>");
  const receiver = pages[0].page;
  const line = receiver.locator(".message-text", { hasText: "<b>bold?</b>" });
  await line.waitFor(WAIT);
  assert.equal(await line.locator("b, img").count(), 0);
  assert.equal(await line.textContent(), "<b>bold?</b><img src=x onerror=alert(1)>");
});

test("a message that is too large gets a clear error", async () => {
  await send(pages[0].page, "x".repeat(9000));
  const error = pages[0].page.getByTestId("send-error");
  await error.waitFor(WAIT);
  assert.match(await error.textContent(), /9000 bytes; the limit is 8192 bytes/);
});

test("a 5 MiB file reaches the room intact, with progress on both ends, and downloads as plain bytes", async () => {
  const bytes = randomBytes(5 * 1024 * 1024);
  const digest = createHash("sha256").update(bytes).digest("hex");
  const sender = pages[1].page;
  await sender.getByLabel("Send to").selectOption("");
  await sender.locator("input[type=file]").setInputFiles({ name: "photo <1>.bin", mimeType: "text/html", buffer: bytes });
  const done = (page) =>
    page.waitForFunction(
      () => {
        const bar = document.querySelector("[data-testid=file] progress");
        return bar && Number(bar.value) === Number(bar.max) && Number(bar.max) > 1_000_000;
      },
      null,
      { timeout: 60_000 },
    );
  await done(sender);
  for (const i of [0, 2, 3]) {
    const page = pages[i].page;
    await page.locator("[data-testid=file] .download").waitFor({ timeout: 60_000 });
    await done(page);
    assert.equal(await page.locator("[data-testid=file] .file-name").textContent(), "photo <1>.bin");
    const received = await page.evaluate(async () => {
      const link = document.querySelector("[data-testid=file] .download");
      const blob = await (await fetch(link.href)).blob();
      const hash = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
      return { type: blob.type, hash: [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("") };
    });
    assert.equal(received.hash, digest, `page ${i}`);
    // The sender called it HTML; opened from here it must not run in this page's origin.
    assert.equal(received.type, "application/octet-stream", `page ${i}`);
  }
  await sender.getByTestId("delivery").filter({ hasText: "delivered to 3 of 3" }).last().waitFor(WAIT);
});

test("the page has no accessibility violations, light or dark (axe-core)", async () => {
  const { page } = pages[0];
  for (const colorScheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme });
    const { passes, violations } = await checkAccessibility(page);
    assert.ok(passes > 10, `axe checked only ${passes} rules`);
    assert.deepEqual(violations, [], `${colorScheme} scheme`);
    console.log("screenshot:", await screenshot(page, `mesh-${colorScheme}`));
  }
  await page.emulateMedia({ colorScheme: null });
});

test("a reloaded page rejoins with the same ID and its history", async () => {
  const { page } = pages[3];
  const id = await ownId(page);
  await page.reload();
  await page.getByTestId("signaling").filter({ hasText: `registered as ${id}` }).waitFor(WAIT);
  assert.ok((await messageTexts(page)).includes("hello room"));
  await waitForPeers(page, 3);
  for (const { page: other } of pages.slice(0, 3)) {
    await other.locator(`[data-testid=peer-list] li[data-state=connected][data-peer-id="${id}"]`).waitFor(WAIT);
  }
  console.log("screenshot:", await screenshot(page, "mesh-desktop"));
  await page.setViewportSize({ width: 390, height: 844 });
  console.log("screenshot:", await screenshot(page, "mesh-phone"));
});

test("a closed page leaves the others' lists within 10 s", async () => {
  const closing = pages.splice(1, 1)[0];
  const id = await ownId(closing.page);
  await closing.context.close();
  const start = Date.now();
  for (const { page } of pages) {
    await page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"]`).waitFor({ state: "detached", timeout: 10_000 });
  }
  console.log(`closed page left every list after ${Date.now() - start} ms`);
  for (const { problems } of pages) assert.deepEqual(problems, []);
});
