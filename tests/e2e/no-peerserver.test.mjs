// Four pages meet through the lone domain's PeerServer, and then it stops for good. Messages keep
// flowing; when the path of one link fails (its UDP dropped by nftables in the test's own network
// namespace), the two pages link again through a page they both know, within 10 s, with no
// PeerServer anywhere.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { newPage, pageSuite, registeredId, screenshot, send, waitForConnected } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const suite = pageSuite();
const TABLE = "seedmesh_no_peerserver";

function nft(...args) {
  execFileSync("nft", args, { stdio: ["ignore", "ignore", "inherit"] });
}
after(() => {
  try {
    nft("delete", "table", "inet", TABLE);
  } catch {
    // Never made, or deleted once the link formed again.
  }
});

/** Opens the app on the lone domain in a page whose RTCPeerConnections the test can read. */
async function open() {
  const p = await newPage(suite.browser);
  suite.pages.push(p);
  await p.page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__connections = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__connections.push(this);
      }
    };
  });
  await p.page.goto(`${suite.server.url}?seed=lone.seedmesh.test`);
  return p;
}

/**
 * The UDP ports of each of the page's connected paths: { local, remote } of the selected pair,
 * and `ports`, every local candidate's port of that connection (ICE moves to another pair when
 * only the selected one fails).
 */
function paths(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const pc of window.__connections) {
      if (pc.connectionState !== "connected") continue;
      const stats = await pc.getStats();
      for (const report of stats.values()) {
        if (report.type !== "transport" || !report.selectedCandidatePairId) continue;
        const pair = stats.get(report.selectedCandidatePairId);
        const local = stats.get(pair.localCandidateId);
        const remote = stats.get(pair.remoteCandidateId);
        const ports = [...stats.values()].filter((r) => r.type === "local-candidate").map((r) => r.port);
        out.push({ local: local.port, remote: remote.port, ports });
      }
    }
    return out;
  });
}

/** The path between two pages, as the first page's ports and both pages' `ports`, or null. */
async function pathBetween(a, b) {
  const [ours, theirs] = await Promise.all([paths(a), paths(b)]);
  for (const p of ours) {
    const q = theirs.find((q) => q.local === p.remote && q.remote === p.local);
    if (q) return { local: p.local, remote: p.remote, ports: [...p.ports, ...q.ports] };
  }
  return null;
}

test("with the PeerServer gone, messages flow and a failed link forms again through a third page", async () => {
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await registeredId((await open()).page));
  const pages = suite.pages.map((p) => p.page);
  for (const [i, page] of pages.entries()) await waitForConnected(page, ids.filter((_, j) => j !== i));

  process.kill(Number(process.env.SEEDMESH_PEERSERVER3_PID), "SIGKILL");
  for (const page of pages) {
    await page.getByTestId("signaling").filter({ hasNotText: "registered as" }).waitFor(WAIT);
  }
  // A slot holder says newcomers cannot find it there now.
  const holders = await Promise.all(
    pages.map((page) => page.getByText(/holding slot \S+, but newcomers cannot reach it/).count()),
  );
  assert.ok(holders.some((n) => n > 0), "no page says its slot is out of reach");
  await send(pages[0], "with no PeerServer");
  for (const page of pages.slice(1)) {
    await page.locator(".message-text", { hasText: "with no PeerServer" }).waitFor(WAIT);
  }

  // The link between the first two pages fails: every packet of every candidate of it is dropped.
  const old = await pathBetween(pages[0], pages[1]);
  assert.ok(old, "no path between the first two pages");
  nft("add", "table", "inet", TABLE);
  nft("add", "chain", "inet", TABLE, "input", "{ type filter hook input priority 0; }");
  for (const port of new Set(old.ports)) {
    nft("add", "rule", "inet", TABLE, "input", "udp", "sport", `${port}`, "drop");
    nft("add", "rule", "inet", TABLE, "input", "udp", "dport", `${port}`, "drop");
  }
  const broken = Date.now();
  let again = null;
  while (Date.now() - broken < 20_000) {
    again = await pathBetween(pages[0], pages[1]);
    if (again && again.local !== old.local) break;
    again = null;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  const took = Date.now() - broken;
  // The new link's sockets may be given a port the rules name: they go now that it formed.
  nft("delete", "table", "inet", TABLE);
  console.log(`the failed link formed again through the mesh after ${took} ms`);
  assert.ok(again, "the two pages did not link again");
  assert.ok(took <= 10_000, `linking again took ${took} ms`);
  const row = pages[0].locator(`[data-testid=peer-list] li[data-peer-id="${ids[1]}"]`);
  await row.filter({ hasText: "signaled through the mesh" }).waitFor(WAIT);
  await waitForConnected(pages[0], ids.slice(1));
  await waitForConnected(pages[1], [ids[0], ids[2], ids[3]]);

  await send(pages[0], "over the new link", ids[1]);
  await pages[1].locator(".message-text", { hasText: "over the new link" }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(pages[0], "no-peerserver-desktop"));
  // The pages report the PeerServer's loss; nothing else went wrong.
  for (const { problems } of suite.pages) {
    assert.deepEqual(problems.filter((p) => !/WebSocket connection to '.*' failed/.test(p)), []);
  }
});
