// Every signaling server in the records is used: with two PeerServers in the zone and the first
// one stopped, pages that were on it move to the second and stay reachable, and a new page and a
// reloaded page both join through the second.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screenshot, waitForConnected, send, pageSuite } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const first = `ws://127.0.0.1:${process.env.SEEDMESH_PEERSERVER2_PORT}/seedmesh/`;
const second = `ws://127.0.0.1:${process.env.SEEDMESH_PEERSERVER_PORT}/seedmesh/`;
const suite = pageSuite();
const open = () => suite.open("?seed=failover.seedmesh.test");

const registeredOn = async (page, address) => {
  const signaling = page.getByTestId("signaling");
  // Not "registering on A, then B…", which names the address too.
  const registered = new RegExp(`registered as (\\S+) on ${address.replace(/[.]/g, "\\.")}`);
  await signaling.filter({ hasText: registered }).waitFor(WAIT).catch(async (cause) => {
    throw new Error(`not registered on ${address}; the page says: ${await signaling.textContent()}`, { cause });
  });
  return registered.exec(await signaling.textContent())[1];
};

const serverStates = (page) =>
  page.getByTestId("servers").locator("li").evaluateAll((items) => items.map((li) => li.dataset.state));

let a;
let b;
let ids;

test("pages register on the first server in the records and list both", async () => {
  a = await open();
  b = await open();
  ids = [await registeredOn(a.page, first), await registeredOn(b.page, first)];
  await waitForConnected(a.page, [ids[1]]);
  await waitForConnected(b.page, [ids[0]]);
  assert.deepEqual(await serverStates(a.page), ["in-use", "standby"]);
});

test("when the first server stops, pages move to the second and keep talking", async () => {
  // Gone at once, as in a crash.
  process.kill(Number(process.env.SEEDMESH_PEERSERVER2_PID), "SIGKILL");
  const started = Date.now();
  for (const p of [a, b]) await registeredOn(p.page, second);
  console.log(`both pages registered on the second server ${Date.now() - started} ms after the first stopped`);
  await a.page.waitForFunction(
    () => [...document.querySelectorAll("[data-testid=servers] li")].map((li) => li.dataset.state).join() === "unreachable,in-use",
    null,
    WAIT,
  );
  await send(a.page, "still here");
  await b.page.locator(".message-text", { hasText: "still here" }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(a.page, "failover-desktop"));
});

test("a new page joins through the second server and meets both", async () => {
  const c = await open();
  const id = await registeredOn(c.page, second);
  ids.push(id);
  await waitForConnected(c.page, ids.slice(0, 2));
  await waitForConnected(a.page, [ids[1], id]);
});

test("a reloaded page rejoins through the second server", async () => {
  await b.page.reload();
  assert.equal(await registeredOn(b.page, second), ids[1]);
  await waitForConnected(b.page, [ids[0], ids[2]]);
  // The browser reports each refused socket to the stopped server; nothing else went wrong.
  const stopped = first.slice("ws://".length);
  for (const { problems } of [a, b]) assert.deepEqual(problems.filter((p) => !p.includes(stopped)), []);
});
