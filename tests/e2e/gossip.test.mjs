// A room bigger than each page's links: with mesh=4,5,5 in the zone, each of eight pages keeps
// at most five links, so a room message reaches some of the others only when pages pass it on. Every
// page shows it, once, from its author, and the author's delivery count says all seven got it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { screenshot, send, pageSuite, registeredId } from "./support.mjs";

const PAGES = 8;
const WAIT = { timeout: 60_000 };
const suite = pageSuite();

const links = (page) => page.locator("[data-testid=peer-list] li[data-state=connected]").count();

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
  for (const { problems } of suite.pages) assert.deepEqual(problems, []);
});
