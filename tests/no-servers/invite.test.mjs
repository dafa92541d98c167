// Pages connect by invite with nothing started: no DoH resolver, no PeerServer, no STUN, only
// the static files. A person carries the invite link to a second page and its answer back (by
// pasting, or by opening the answer link in the inviting browser); once linked, the mesh
// carries the rest: two pages invited by the same page meet through it.
//
// Run in a private network namespace where nothing else runs (scripts/test.sh does).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  root,
  serveStatic,
  launchBrowser,
  newPage,
  newTab,
  screenshot,
  send,
  checkAccessibility,
} from "../e2e/support.mjs";

const WAIT = { timeout: 20_000 };

/** Whether anything accepts TCP connections on 127.0.0.1:`port`. */
function listening(port) {
  return new Promise((ok) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("connect", () => (socket.destroy(), ok(true)));
    socket.on("error", () => ok(false));
  });
}

/** The IDs of the peers the page lists as connected, once there are at least `count`. */
async function connectedPeers(page, count) {
  const rows = page.locator("[data-testid=peer-list] li[data-state=connected]");
  await page.waitForFunction(
    (n) => document.querySelectorAll("[data-testid=peer-list] li[data-state=connected]").length >= n,
    count,
    WAIT,
  );
  return (await rows.evaluateAll((lis) => lis.map((li) => li.dataset.peerId))).sort();
}

/** What the QR code inside `locator` reads as, scanned with jsQR from its pixels. */
async function scanQr(page, locator) {
  // Evaluated through the debugging protocol: the page's Content-Security-Policy rightly
  // refuses an injected <script>.
  await page.evaluate(readFileSync(join(root, "node_modules/jsqr/dist/jsQR.js"), "utf8"));
  const svg = await locator.innerHTML();
  return page.evaluate(async (svg) => {
    const image = new Image();
    image.src = `data:image/svg+xml;base64,${btoa(svg)}`;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 400;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, 400, 400);
    const pixels = context.getImageData(0, 0, 400, 400);
    return window.jsQR(pixels.data, 400, 400)?.data ?? null;
  }, svg);
}

/** Makes an invite on `page`; resolves to its link. */
async function makeInvite(page) {
  await page.getByRole("button", { name: /Make (an|a new) invite/ }).first().click();
  const field = page.getByTestId("invite-link");
  await page.waitForFunction(() => document.querySelector("[data-testid=invite-link]")?.value, null, WAIT);
  return field.inputValue();
}

/** Opens `link` in `tab` and resolves to the answer link the page shows. */
async function answer(tab, link) {
  await tab.goto(link);
  await tab.waitForFunction(() => document.querySelector("[data-testid=answer-link]")?.value, null, WAIT);
  return tab.getByTestId("answer-link").inputValue();
}

/** Problems a page with no resolver and no PeerServer reports, as it should. */
function unexpected(problems) {
  return problems.filter(
    (p) =>
      !/request failed: http:\/\/127\.0\.0\.1:8053\//.test(p) &&
      !/WebSocket connection to '.*' failed/.test(p),
  );
}

const browser = await launchBrowser();
const server = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"));
const contexts = [];
after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser.close();
  await server.close();
});

/** A page in a browser of its own (its own context), as on another device. */
async function device(viewport) {
  const p = await newPage(browser, viewport);
  contexts.push(p.context);
  return p;
}

test("with nothing started, two pages connect by invite link and chat; a third joins through them", async () => {
  // Nothing but the static files: no resolver on the build's DoH port, no PeerServer.
  assert.equal(await listening(8053), false, "a DoH resolver is running");
  assert.equal(await listening(9000), false, "a PeerServer is running");

  const a = await device();
  await a.page.goto(server.url);
  const invite = await makeInvite(a.page);
  const text = invite.split("#invite=")[1];
  console.log(`invite link: ${invite.length} characters, invite text ${text.length} characters`);
  assert.ok(text.length <= 300, `an invite of ${text.length} characters`);
  console.log("screenshot:", await screenshot(a.page, "invite-open-desktop"));
  // The QR code a phone would scan holds the link.
  assert.equal(await scanQr(a.page, a.page.getByTestId("invite").getByTestId("qr")), invite);

  // A second device opens the link and shows an answer; a person pastes it back.
  const b = await device({ width: 390, height: 844 });
  const answerLink = await answer(b.page, invite);
  console.log("screenshot:", await screenshot(b.page, "invite-answer-phone"));
  const answerText = answerLink.split("#answer=")[1];
  console.log(`answer link: ${answerLink.length} characters, answer text ${answerText.length} characters`);
  assert.ok(answerText.length <= 300, `an answer of ${answerText.length} characters`);
  assert.equal(await scanQr(b.page, b.page.getByTestId("invite-notice").getByTestId("qr")), answerLink);
  assert.equal(new URL(b.page.url()).hash, "", "the invite stays in the address");
  await a.page.getByLabel("Their answer").fill(answerLink);
  await a.page.getByRole("button", { name: "Connect" }).click();
  const [bId] = await connectedPeers(a.page, 1);
  const [aId] = await connectedPeers(b.page, 1);
  await b.page.getByText("Connected: the page that invited you is under Peers.").waitFor(WAIT);
  const row = a.page.locator(`[data-testid=peer-list] li[data-peer-id="${bId}"]`);
  await row.filter({ hasText: "by invite" }).waitFor(WAIT);
  await a.page.getByTestId("invite-status").filter({ hasText: "Linked with Guest" }).waitFor(WAIT);

  await send(a.page, "hello with no server");
  await b.page.locator(".message-text", { hasText: "hello with no server" }).waitFor(WAIT);
  await b.page.getByRole("button", { name: "Messages" }).click();
  await send(b.page, "and back, by invite");
  await a.page.locator(".message-text", { hasText: "and back, by invite" }).waitFor(WAIT);
  console.log("screenshots:", await screenshot(a.page, "invite-desktop"), await screenshot(b.page, "invite-phone"));

  // A third device answers a new invite from the first; its answer link, opened in the first
  // device's browser, reaches the inviting tab by itself.
  const c = await device();
  const second = await makeInvite(a.page);
  assert.notEqual(second, invite);
  const answerLink2 = await answer(c.page, second);
  const carrier = await newTab(a.context);
  await carrier.page.goto(answerLink2);
  await carrier.page.getByText("The answer went to the tab in this browser that made the invite").waitFor(WAIT);
  // Its first link can only be the inviting page: nothing else knows of it yet.
  assert.ok((await connectedPeers(c.page, 1)).includes(aId));

  // The invited pages learn of each other from the first and link through it, with no server.
  const [atB, atC] = await Promise.all([connectedPeers(b.page, 2), connectedPeers(c.page, 2)]);
  assert.ok(atB.includes(aId) && atC.includes(aId));
  await send(c.page, "from the third page");
  await b.page.locator(".message-text", { hasText: "from the third page" }).waitFor(WAIT);

  const axe = await checkAccessibility(b.page);
  assert.deepEqual(axe.violations, []);
  for (const p of [a, b, c, carrier]) assert.deepEqual(unexpected(p.problems), []);
});
