// The README's first instruction, done the way a person does it: open the page in two tabs of one
// browser (one context: shared storage, shared locks), see them meet and chat, reload both, and
// find each tab still itself with its own history. A page in another browser meets both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { root, serveStatic, launchBrowser, newPage, newTab, screenshot, checkAccessibility, waitForConnected, send, registeredId } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
let server;
let browser;
let contexts = [];

before(async () => {
  server = await serveStatic(process.env.SEEDMESH_DIST ?? join(root, "dist"), "/");
  browser = await launchBrowser();
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.close();
});

const connectedIds = (page) =>
  page
    .locator("[data-testid=peer-list] li[data-state=connected]")
    .evaluateAll((items) => items.map((li) => li.dataset.peerId).sort());

/** The chat as a page shows it: [who, text] for every line, oldest first. */
const chat = (page) =>
  page.locator("[data-testid=messages] .message").evaluateAll((items) =>
    items.map((li) => [li.querySelector(".message-from").textContent, li.querySelector(".message-text")?.textContent]),
  );

let first;
let second;
let ids;

test("two tabs of one browser are two peers and meet", async () => {
  first = await newPage(browser, DESKTOP);
  contexts.push(first.context);
  await first.page.goto(server.url);
  const firstId = await registeredId(first.page);

  // Alone, the first screen says what to do next: share this page's address.
  const welcome = first.page.getByTestId("welcome");
  await welcome.waitFor(WAIT);
  assert.match(await welcome.textContent(), /You are online as .*share this page's address/s);
  assert.equal(await first.page.getByTestId("page-address").inputValue(), server.url);
  console.log("screenshot:", await screenshot(first.page, "first-run-desktop"));
  await first.page.setViewportSize(PHONE);
  // On a phone the conversation is the panel shown; the composer is on the first screen.
  assert.ok(await first.page.getByRole("textbox", { name: "Message" }).isVisible());
  assert.ok(!(await first.page.getByRole("heading", { name: "Settings" }).isVisible()));
  const composer = await first.page.getByRole("textbox", { name: "Message" }).boundingBox();
  assert.ok(composer.y + composer.height <= PHONE.height, `composer at ${composer.y} px`);
  console.log("screenshot:", await screenshot(first.page, "first-run-phone"));
  const { passes, violations } = await checkAccessibility(first.page);
  assert.ok(passes > 10, `axe checked only ${passes} rules`);
  assert.deepEqual(violations, [], "the phone layout");
  await first.page.getByRole("button", { name: "Peers" }).click();
  assert.ok(await first.page.getByRole("heading", { name: "Peers" }).isVisible());
  await first.page.getByRole("button", { name: "Messages" }).click();
  await first.page.setViewportSize(DESKTOP);

  second = await newTab(first.context);
  await second.page.goto(server.url);
  const secondId = await registeredId(second.page);
  assert.notEqual(secondId, firstId, "the second tab took the first tab's ID");
  ids = [firstId, secondId];

  await waitForConnected(first.page, [secondId]);
  await waitForConnected(second.page, [firstId]);
  await welcome.waitFor({ state: "detached", ...WAIT });
});

test("the two tabs chat both ways", async () => {
  await send(first.page, "hello from the first tab");
  await second.page.locator(".message-text", { hasText: "hello from the first tab" }).waitFor(WAIT);
  await send(second.page, "hello from the second tab");
  await first.page.locator(".message-text", { hasText: "hello from the second tab" }).waitFor(WAIT);
  await first.page.getByTestId("delivery").filter({ hasText: "delivered to 1 of about 1" }).waitFor(WAIT);
});

test("reloaded tabs come back as themselves, each with its own history", async () => {
  for (const tab of [first, second]) await tab.page.reload();
  const [firstId, secondId] = ids;
  assert.equal(await registeredId(first.page), firstId);
  assert.equal(await registeredId(second.page), secondId);
  await waitForConnected(first.page, [secondId]);
  await waitForConnected(second.page, [firstId]);

  const firstChat = await chat(first.page);
  const secondChat = await chat(second.page);
  assert.deepEqual(firstChat.find(([, text]) => text === "hello from the first tab")?.[0], "You");
  assert.notEqual(firstChat.find(([, text]) => text === "hello from the second tab")?.[0], "You");
  assert.deepEqual(secondChat.find(([, text]) => text === "hello from the second tab")?.[0], "You");
  assert.notEqual(secondChat.find(([, text]) => text === "hello from the first tab")?.[0], "You");
  assert.equal(firstChat.length, 2, JSON.stringify(firstChat));
  assert.equal(secondChat.length, 2, JSON.stringify(secondChat));
});

test("a page in another browser meets both tabs", async () => {
  const third = await newPage(browser, DESKTOP);
  contexts.push(third.context);
  await third.page.goto(server.url);
  const thirdId = await registeredId(third.page);
  assert.ok(!ids.includes(thirdId));
  await waitForConnected(third.page, ids);
  await waitForConnected(first.page, [ids[1], thirdId]);
  await waitForConnected(second.page, [ids[0], thirdId]);
  assert.deepEqual(await connectedIds(third.page), [...ids].sort());
  for (const { problems } of [first, second, third]) assert.deepEqual(problems, []);
});

test("a first visit whose resolvers all fail says which and what the page does instead", async () => {
  const lost = await newPage(browser, PHONE);
  contexts.push(lost.context);
  await lost.page.goto(`${server.url}?doh=http://127.0.0.1:9/dns-query`);
  await lost.page.getByRole("button", { name: "Connection" }).click();
  const discovery = lost.page.getByTestId("discovery");
  await discovery.filter({ hasText: "Could not read" }).waitFor(WAIT);
  assert.equal(
    await discovery.textContent(),
    "Could not read the seed records of seedmesh.test: 127.0.0.1:9 could not be reached. This page " +
      "uses the public PeerJS server and STUN, and meets visitors of this same page instead.",
  );
  console.log("screenshot:", await screenshot(lost.page, "first-run-no-dns-phone"));
});
