// Links learned by peer exchange are signaled through the mesh, not the PeerServer. With one
// rendezvous slot, the first page holds it and the others dial it through the PeerServer; they
// learn of each other from the slot holder, and their own link's offer, answer and candidates
// go through it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screenshot, waitForConnected, send, pageSuite, registeredId } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const suite = pageSuite();

/** The page's mesh-signaling counts: { sent, received, relayed, refused }. */
async function counts(page) {
  const text = await page.getByTestId("mesh-signaling").textContent();
  const m = /(\d+) sent, (\d+) received, (\d+) passed on for others, (\d+) refused/.exec(text);
  if (!m) return { sent: 0, received: 0, relayed: 0, refused: 0 };
  const [sent, received, relayed, refused] = m.slice(1).map(Number);
  return { sent, received, relayed, refused };
}

test("pages that meet through peer exchange signal through the page between them", async () => {
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const p = await suite.open("?seed=mesh.seedmesh.test");
    ids.push(await registeredId(p.page));
  }
  const [holder, b, c] = suite.pages.map((p) => p.page);
  await holder.getByText("holding slot seedmesh-one-slot-0").waitFor(WAIT);
  await waitForConnected(holder, ids.slice(1));
  await waitForConnected(b, [ids[0], ids[2]]);
  await waitForConnected(c, [ids[0], ids[1]]);

  // The second and third pages' link was signaled through the slot holder, both ways.
  const [h, x, y] = await Promise.all([holder, b, c].map(counts));
  console.log("mesh signaling counts (holder, second, third):", JSON.stringify([h, x, y]));
  assert.ok(x.sent > 0 && y.sent > 0, "both ends sent signaling through the mesh");
  assert.ok(x.received > 0 && y.received > 0, "both ends received signaling through the mesh");
  assert.ok(h.relayed >= 2, `the holder passed on only ${h.relayed} messages`);
  assert.equal(h.refused + x.refused + y.refused, 0);

  // Each page's list says which of its links the mesh signaled.
  const row = (page, id) => page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"] .peer-meta`);
  await row(b, ids[2]).filter({ hasText: "signaled through the mesh" }).waitFor(WAIT);
  await row(c, ids[1]).filter({ hasText: "signaled through the mesh" }).waitFor(WAIT);
  assert.doesNotMatch(await row(b, ids[0]).textContent(), /signaled through the mesh/);

  // And the link works.
  await send(b, "through a link the mesh made", ids[2]);
  await c.locator(".message-text", { hasText: "through a link the mesh made" }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(c, "mesh-signaling-desktop"));
  for (const { problems } of suite.pages) assert.deepEqual(problems, []);
});
