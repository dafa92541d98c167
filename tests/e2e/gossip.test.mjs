// A room bigger than each page's links: with mesh=4,5,5 in the zone, each of eight pages keeps
// at most five links, so a room message reaches some of the others only when pages pass it on. Every
// page shows it, once, from its author, and the author's delivery count says all seven got it.
// Each page hears who is in the room, past its links. Each page's picture of the mesh shows its
// own links and, past them, exactly their links; when a page closes, it leaves every picture. A
// file shared with the room is announced past the sender's links, and a page there gets it on
// asking.
import { test } from "node:test";
import { createHash, randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { screenshot, send, pageSuite, registeredId } from "./support.mjs";

const PAGES = 8;
const WAIT = { timeout: 60_000 };
const suite = pageSuite();

const links = (page) => page.locator("[data-testid=peer-list] li[data-state=connected]").count();

/** What a page's peer list and its picture of the mesh show. */
const seen = (page) =>
  page.evaluate(() => ({
    linked: [...document.querySelectorAll("[data-testid=peer-list] li[data-state=connected]")].map(
      (li) => li.dataset.peerId,
    ),
    drawnLinks: [...document.querySelectorAll("[data-testid=mesh-picture] g.link")].map((g) => g.dataset.peerId),
    drawnOuter: [...document.querySelectorAll("[data-testid=mesh-picture] g.outer")].map((g) => ({
      id: g.dataset.peerId,
      toldBy: g.dataset.toldBy.split(" "),
    })),
  }));

/**
 * Where the pictures of `pages` (going by `ids`) differ from the links their peer lists show:
 * each page draws its own links, and past them every link of theirs and nothing else. Empty
 * when all agree.
 */
async function pictureProblems(pages, ids) {
  const views = await Promise.all(pages.map(seen));
  const linkedOf = new Map(views.map((v, i) => [ids[i], new Set(v.linked)]));
  const sorted = (list) => [...list].sort().join(" ");
  const problems = [];
  views.forEach((view, i) => {
    const mine = linkedOf.get(ids[i]);
    if (sorted(view.drawnLinks) !== sorted(mine)) {
      problems.push(`page ${i} draws links ${sorted(view.drawnLinks)} but has ${sorted(mine)}`);
    }
    const expected = new Set();
    for (const peer of mine) {
      for (const far of linkedOf.get(peer) ?? []) {
        if (far !== ids[i] && !mine.has(far)) expected.add(far);
      }
    }
    if (sorted(view.drawnOuter.map((o) => o.id)) !== sorted(expected)) {
      problems.push(`page ${i} draws ${sorted(view.drawnOuter.map((o) => o.id))} past its links, not ${sorted(expected)}`);
    }
    for (const { id, toldBy } of view.drawnOuter) {
      for (const teller of toldBy) {
        if (!linkedOf.get(teller)?.has(id)) problems.push(`page ${i} draws ${id} linked with ${teller}, which it is not`);
      }
    }
  });
  return problems;
}

/** Waits until every picture agrees with the peer lists; fails with the differences. */
async function picturesAgree(pages, ids, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const problems = await pictureProblems(pages, ids);
    if (problems.length === 0) return;
    if (Date.now() > deadline) assert.fail(problems.join("\n"));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test("eight pages with at most five links each all get a room message, and the count says 7 of 7", async () => {
  const ids = [];
  for (let i = 0; i < PAGES; i++) {
    const p = await suite.open("?seed=gossip.seedmesh.test");
    ids.push(await registeredId(p.page, 60_000));
  }
  const pages = suite.pages.map((p) => p.page);
  // Wait until every page has a link and the links have settled within the bounds.
  await Promise.all(
    pages.map((page) =>
      page.waitForFunction(
        () => {
          const n = document.querySelectorAll("[data-testid=peer-list] li[data-state=connected]").length;
          return n >= 1 && n <= 5;
        },
        null,
        WAIT,
      ),
    ),
  );
  // And until no page's links changed for three seconds.
  let counts = await Promise.all(pages.map(links));
  for (let settled = false; !settled; ) {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const now = await Promise.all(pages.map(links));
    settled = now.every((n, i) => n === counts[i]);
    counts = now;
  }
  console.log("links per page:", counts.join(", "));
  assert.ok(counts.every((n) => n <= 5), `a page has more than five links: ${counts}`);
  assert.ok(counts[0] < PAGES - 1, "the sender is linked to every page: nothing would be relayed");

  // Every page hears from the whole room, linked or not, before anyone writes.
  for (const [i, page] of pages.entries()) {
    const roster = page.getByTestId("room-roster");
    await roster.filter({ hasText: "7 other pages in the room" }).waitFor(WAIT);
    const listed = await roster.locator("li[data-peer-id]").evaluateAll((items) => items.map((li) => li.dataset.peerId));
    const linked = (await seen(page)).linked;
    const expected = ids.filter((id, j) => j !== i && !linked.includes(id));
    assert.deepEqual([...listed].sort(), [...expected].sort(), `page ${i} lists other pages past its links`);
  }
  await send(pages[0], "to the whole room, past my links");
  for (const page of pages.slice(1)) {
    await page.locator(".message-text", { hasText: "to the whole room, past my links" }).waitFor(WAIT);
  }
  const delivery = pages[0].getByTestId("delivery");
  await delivery
    .filter({ hasText: "delivered to 7 of about 7" })
    .waitFor(WAIT)
    .catch(async (error) => {
      console.log("the sender shows:", await delivery.textContent());
      throw error;
    });
  // Each page shows it once, from its author.
  for (const [i, page] of pages.slice(1).entries()) {
    const shown = page.locator("[data-testid=messages] li", { hasText: "to the whole room, past my links" });
    assert.equal(await shown.count(), 1, `page ${i + 1}`);
    assert.match(await shown.locator(".message-from").textContent(), /Guest/);
  }
  console.log("screenshot:", await screenshot(pages[PAGES - 1], "gossip-desktop"));

  // A file for the room: a page with no link to the sender hears of it, asks, and gets it.
  const bytes = randomBytes(300 * 1024);
  const digest = createHash("sha256").update(bytes).digest("hex");
  await pages[0].locator("input[type=file]").setInputFiles({ name: "shared.bin", mimeType: "application/octet-stream", buffer: bytes });
  const senderLinks = (await seen(pages[0])).linked;
  const far = pages.findIndex((_, i) => i > 0 && !senderLinks.includes(ids[i]));
  assert.ok(far > 0, "every page is linked with the sender");
  const file = pages[far].locator("[data-testid=file]", { hasText: "shared.bin" });
  await file.filter({ hasText: "shared with the room" }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(pages[far], "shared-file-desktop"));
  await pages[far].setViewportSize({ width: 390, height: 844 });
  console.log("screenshot:", await screenshot(pages[far], "shared-file-phone"));
  await file.getByRole("button", { name: "Get it" }).click();
  await file.locator(".download").waitFor(WAIT);
  const received = await file.locator(".download").evaluate(async (link) => {
    const blob = await (await fetch(link.href)).blob();
    const hash = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
    return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
  });
  assert.equal(received, digest, `page ${far} got other bytes`);

  // The pictures: each page's links, and past them their links. No page is linked with all
  // seven others, and the room is one piece, so every page draws someone past its links.
  await picturesAgree(pages, ids);
  for (const [i, page] of pages.entries()) {
    assert.ok((await seen(page)).drawnOuter.length > 0, `page ${i} draws nobody past its links`);
  }
  await pages[0].getByTestId("room-roster").locator("summary").click();
  console.log("screenshot:", await screenshot(pages[0], "mesh-picture-desktop"));
  await pages[0].setViewportSize({ width: 390, height: 844 });
  await pages[0].getByRole("button", { name: /^Peers/ }).click();
  console.log("screenshot:", await screenshot(pages[0], "mesh-picture-phone"));

  // A page closes: it leaves every picture, and the pictures follow the links that remain.
  const [leaving] = suite.pages.splice(PAGES - 1, 1);
  await leaving.context.close();
  const left = ids[PAGES - 1];
  await picturesAgree(pages.slice(0, -1), ids.slice(0, -1), 30_000);
  for (const [i, page] of pages.slice(0, -1).entries()) {
    const view = await seen(page);
    assert.ok(![...view.drawnLinks, ...view.drawnOuter.map((o) => o.id)].includes(left), `page ${i} still draws ${left}`);
  }
  for (const { problems } of suite.pages) assert.deepEqual(problems, []);
});
