// Pages behind NATs, in the NAT lab (scripts/natlab.sh): each page in its own Chromium or Firefox,
// started in a home's network namespace behind a router of some kind. The seed records name STUN and TURN
// (over UDP and TCP) on the lab's public server, as a real seed domain would. Pages behind cone
// and port-restricted NATs, and a page behind a symmetric NAT with one behind a cone NAT, connect
// straight through the NATs with the addresses STUN found; behind two symmetric NATs they fall
// back to the TURN relay; behind a firewall that drops UDP, to TURN over TCP; and the peer list's
// path column says which. When a router forgets its mappings mid-chat, the peer list says the
// link was lost and why, the pages link again, and nothing sent is lost. A Firefox page behind a
// cone NAT, a symmetric NAT or a UDP-blocking firewall meets a Chromium page the same ways.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { launchBrowser, newTab, screenshot } from "../e2e/support.mjs";
import { connectedRow, launchFirefox, pathTo as pathShown, registered, send, shown, Tab } from "../e2e/firefox.mjs";

const homes = JSON.parse(process.env.SEEDMESH_NATLAB_HOMES ?? "null");
if (!homes) throw new Error("SEEDMESH_NATLAB_HOMES is not set: run through scripts/natlab.sh");
const WAIT_MS = 30_000;
/** The lab's public server: DoH, PeerServer, STUN and TURN (scripts/natlab.sh). */
const PUBLIC = "203.0.113.1";
const RELAYED = ["relayed by TURN over UDP", "relayed by their TURN server"];

let browsers = [];
let bridges = [];
afterEach(async () => {
  await Promise.all(browsers.map((b) => b.close().catch(() => {})));
  browsers = [];
  for (const bridge of bridges) bridge.close();
  bridges = [];
});

/** Pipes standard input and output to a TCP port on this namespace's loopback (argv[1]). */
const PIPE_TO_LOOPBACK = `
  const socket = require("node:net").createConnection({ host: "127.0.0.1", port: Number(process.argv[1]) });
  process.stdin.pipe(socket).pipe(process.stdout);
  socket.on("error", () => process.exit(1));
  socket.on("close", () => process.exit(0));
`;

/**
 * Firefox, started in `home`; the tab, with its ID, once the app registered on `domain`.
 * puppeteer speaks WebDriver BiDi to Firefox over a WebSocket on Firefox's loopback, which is
 * the home's: a bridge on our loopback, at the same port, carries each connection into the home.
 */
async function openFirefoxIn(home, domain) {
  const port = 9300 + Object.keys(homes).indexOf(home);
  const bridge = createServer((outside) => {
    const inside = spawn("ip", ["netns", "exec", home, process.execPath, "-e", PIPE_TO_LOOPBACK, String(port)], {
      stdio: ["pipe", "pipe", "ignore"],
    });
    outside.pipe(inside.stdin);
    inside.stdout.pipe(outside);
    outside.on("error", () => inside.kill());
    outside.on("close", () => inside.kill());
    inside.on("exit", () => outside.destroy());
  });
  await new Promise((ok) => bridge.listen(port, "127.0.0.1", ok));
  bridges.push(bridge);
  const browser = await launchFirefox({ executablePath: homes[home].firefox, args: [`--remote-debugging-port=${port}`] });
  browsers.push(browser);
  const tab = await Tab.firefox(browser);
  await tab.goto(`http://127.0.0.1:8080/?seed=${domain}`);
  await registered(tab, WAIT_MS);
  tab.home = home;
  return tab;
}

/** The app, on the seed domain `domain`, in a Chromium of its own in `home`; the tab, with its ID. */
async function openIn(home, domain) {
  const { chromium } = homes[home];
  // Chromium looks up even an address literal for TURN over TCP: the lab's public address must
  // pass the rule that lets nothing else be looked up.
  const browser = await launchBrowser([`--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE ${PUBLIC}`], chromium);
  browsers.push(browser);
  const tab = await newTab(await browser.newContext({ viewport: { width: 1280, height: 800 } }));
  await tab.page.goto(`http://127.0.0.1:8080/?seed=${domain}`);
  const signaling = tab.page.getByTestId("signaling");
  await signaling.filter({ hasText: "registered as" }).waitFor({ timeout: WAIT_MS });
  tab.id = /registered as (\S+)/.exec(await signaling.textContent())[1];
  tab.home = home;
  return tab;
}

/** The path column of `tab`'s row for `id`, once connected and its path was read. */
async function pathTo(tab, id) {
  const row = tab.page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"][data-state=connected]`);
  const path = row.getByTestId("peer-path");
  try {
    await path.waitFor({ timeout: WAIT_MS });
  } catch (error) {
    const peers = await tab.page.getByTestId("peer-list").textContent().catch(() => "?");
    const signaling = await tab.page.getByTestId("signaling").textContent().catch(() => "?");
    throw new Error(`${tab.home}: no connected path to ${id} (signaling: ${signaling}; peers: ${peers})`, { cause: error });
  }
  return { text: await path.textContent() };
}

/** What a peer's row may say while its link recovers: connected, or lost (with why) and forming again. */
const ROW_WHILE_RECOVERING = /^(connected|link lost: .+; connecting again…)$/;

/** Records, in `tab`, every text the state badge of the row for `id` shows from now on ("(no row)" when there is none). */
async function watchRow(tab, id) {
  await tab.page.evaluate((id) => {
    const states = (window.seedmeshRowStates = []);
    const record = () => {
      const badge = document.querySelector(`[data-testid=peer-list] li[data-peer-id="${id}"] .badge`);
      const text = badge ? badge.textContent : "(no row)";
      if (states.at(-1) !== text) states.push(text);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    record();
  }, id);
}

/** What the row watched by `watchRow` said, in order. */
function rowStates(tab) {
  return tab.page.evaluate(() => window.seedmeshRowStates);
}

/** `tab`'s own line in the chat with the text `text`. */
function ownLine(tab, text) {
  return tab.page.locator("li.message.mine").filter({ has: tab.page.locator(".message-text", { hasText: text }) });
}

/** Sends `text` from `from`'s composer to `to` alone. */
async function sendDirect(from, to, text) {
  await from.page.getByLabel("Send to").selectOption(to.id);
  await from.page.getByRole("textbox", { name: "Message" }).fill(text);
  await from.page.getByRole("button", { name: "Send", exact: true }).click();
}

/**
 * Two pages, in homes `a` and `b`, on `domain`: they meet, chat both ways; resolves to each one's
 * path, and to the two tabs as `tabs`.
 */
async function meet(a, b, domain) {
  const started = Date.now();
  const first = await openIn(a, domain);
  const second = await openIn(b, domain);
  const [firstPath, secondPath] = await Promise.all([pathTo(first, second.id), pathTo(second, first.id)]);
  console.log(`${a} (${homes[a].kind}) and ${b} (${homes[b].kind}): connected ${Date.now() - started} ms after the first page opened; ${a} says "${firstPath.text}", ${b} says "${secondPath.text}"`);
  for (const [from, to] of [[first, second], [second, first]]) {
    const text = `from ${from.home} to ${to.home}`;
    await sendDirect(from, to, text);
    await to.page.locator(".message-text", { hasText: text }).waitFor({ timeout: WAIT_MS });
  }
  for (const tab of [first, second]) assert.deepEqual(tab.problems, [], `${tab.home}'s page`);
  const paths = [firstPath, secondPath];
  paths.tabs = [first, second];
  return paths;
}

test("behind cone NATs, pages connect straight through them with the addresses STUN found", { timeout: 120_000 }, async () => {
  const paths = await meet("cone-a", "cone-b", "cone.seedmesh.test");
  for (const path of paths) assert.equal(path.text, "direct through NAT (STUN)");
});

test("behind port-restricted NATs, pages connect straight through them with STUN", { timeout: 120_000 }, async () => {
  const paths = await meet("restricted-a", "restricted-b", "restricted.seedmesh.test");
  for (const path of paths) assert.equal(path.text, "direct through NAT (STUN)");
});

test("a page behind a symmetric NAT still connects straight to one behind a cone NAT", { timeout: 120_000 }, async () => {
  const paths = await meet("symmetric-a", "cone-a", "mixed.seedmesh.test");
  for (const path of paths) assert.equal(path.text, "direct through NAT (STUN)");
});

test("behind symmetric NATs, pages fall back to the TURN relay the seed records name", { timeout: 120_000 }, async () => {
  const paths = await meet("symmetric-a", "symmetric-b", "symmetric.seedmesh.test");
  for (const path of paths) assert.ok(RELAYED.includes(path.text), path.text);
  assert.ok(paths.some((path) => path.text === "relayed by TURN over UDP"), JSON.stringify(paths));
});

test("behind a firewall that drops UDP, a page falls back to TURN over TCP", { timeout: 120_000 }, async () => {
  const [firewalled, other] = await meet("firewalled", "restricted-a", "firewall.seedmesh.test");
  assert.equal(firewalled.text, "relayed by TURN over TCP");
  assert.ok(RELAYED.includes(other.text), other.text);
});

test("when a NAT forgets its mappings during a chat, what is sent still arrives", { timeout: 120_000 }, async () => {
  const { tabs } = await meet("symmetric-a", "symmetric-b", "expiry.seedmesh.test");
  const [first, second] = tabs;
  // Every mapping of the first home's router goes: its page's packets leave from new ports, to
  // which the TURN server and the other page answer nothing.
  await watchRow(first, second.id);
  execFileSync("ip", ["netns", "exec", homes[first.home].router, "conntrack", "-F"], { stdio: "ignore" });
  const flushed = Date.now();
  let arrived = null;
  let sent = 0;
  while (!arrived && Date.now() - flushed < 45_000) {
    await sendDirect(first, second, `after the flush, ${sent}`);
    sent += 1;
    const line = second.page.locator(".message-text", { hasText: "after the flush" });
    arrived = await line.first().waitFor({ timeout: 2_000 }).then(() => line.first().textContent(), () => null);
  }
  console.log(`after the NAT forgot its mappings, "${arrived}" arrived ${Date.now() - flushed} ms later (${sent} sent)`);
  assert.ok(arrived, "no message arrived in 45 s after the flush");
  // Nothing sent into the dead path is lost: every message arrives.
  await second.page
    .locator(".message-text", { hasText: `after the flush, ${sent - 1}` })
    .waitFor({ timeout: 30_000 });
  const all = await second.page.locator(".message-text", { hasText: "after the flush" }).allTextContents();
  assert.deepEqual(all.sort(), Array.from({ length: sent }, (_, n) => `after the flush, ${n}`).sort());
  await pathTo(first, second.id);
  // ICE may find the new mapping on the same connection (a TURN permission is for an address,
  // not a port), or the link is lost and formed again: the row says so, and why, meanwhile.
  const states = await rowStates(first);
  console.log(`meanwhile ${first.home}'s row for ${second.home} said: ${JSON.stringify(states)}`);
  for (const state of states) assert.match(state, ROW_WHILE_RECOVERING);
  assert.equal(states.at(-1), "connected");
  for (const tab of tabs) assert.deepEqual(tab.problems, [], `${tab.home}'s page`);
});

test("when the network drops everything for longer than the liveness timeout, the link is reported lost and formed again, and nothing sent is lost", { timeout: 120_000 }, async () => {
  const { tabs } = await meet("cone-a", "cone-b", "cone.seedmesh.test");
  const [first, second] = tabs;
  await watchRow(first, second.id);
  const router = homes[first.home].router;
  // The first home's router forwards nothing, either way, for 12 s: longer than the 8 s a
  // link may stay silent.
  execFileSync("ip", ["netns", "exec", router, "nft", "-f", "-"], {
    input: "table inet outage { chain forward { type filter hook forward priority -10; policy drop; }; }",
  });
  const started = Date.now();
  const sent = [];
  try {
    for (let n = 0; n < 3; n += 1) {
      const text = `during the outage, ${n}`;
      await sendDirect(first, second, text);
      sent.push(text);
      await first.page.waitForTimeout(1_000);
    }
    await first.page
      .locator(`[data-testid=peer-list] li[data-peer-id="${second.id}"][data-state=reconnecting]`)
      .waitFor({ timeout: 15_000 });
    // Written while the row says the link is lost, a message waits for the link.
    await sendDirect(first, second, "during the outage, while the link is lost");
    sent.push("during the outage, while the link is lost");
    await ownLine(first, "during the outage, while the link is lost")
      .getByTestId("delivery")
      .filter({ hasText: "waiting for the link to this peer to form again; it goes then" })
      .waitFor({ timeout: 5_000 });
    await screenshot(first.page, "natlab-link-lost");
    await first.page.setViewportSize({ width: 390, height: 844 });
    await screenshot(first.page, "natlab-link-lost-phone");
    await first.page.setViewportSize({ width: 1280, height: 800 });
    await first.page.waitForTimeout(Math.max(0, 12_000 - (Date.now() - started)));
  } finally {
    execFileSync("ip", ["netns", "exec", router, "nft", "delete", "table", "inet", "outage"]);
  }
  const back = Date.now();
  for (const text of sent) {
    await second.page.locator(".message-text", { hasText: text }).waitFor({ timeout: WAIT_MS });
  }
  console.log(`${sent.length} messages sent during a ${back - started} ms outage arrived ${Date.now() - back} ms after it ended`);
  const all = await second.page.locator(".message-text", { hasText: "during the outage" }).allTextContents();
  assert.deepEqual(all.sort(), sent.sort(), "each message arrives once");
  for (const text of sent) {
    await ownLine(first, text).getByTestId("delivery").filter({ hasText: /^delivered to 1 of 1$/ }).waitFor({ timeout: WAIT_MS });
  }
  await pathTo(first, second.id);
  const states = await rowStates(first);
  console.log(`meanwhile ${first.home}'s row for ${second.home} said: ${JSON.stringify(states)}`);
  for (const state of states) assert.match(state, ROW_WHILE_RECOVERING);
  // Whichever noticed first: the pings going unanswered, or ICE losing the path.
  assert.ok(states.some((state) => /^link lost: (the peer has not answered|the network path to the peer failed)/.test(state)), JSON.stringify(states));
  assert.equal(states.at(-1), "connected");
  for (const tab of tabs) assert.deepEqual(tab.problems, [], `${tab.home}'s page`);
});

/**
 * A Firefox page in `firefoxHome` and a Chromium page in `chromiumHome`, on `domain`: they meet,
 * prove their keys and chat both ways; resolves to the path each one's row shows.
 */
async function meetFirefox(firefoxHome, chromiumHome, domain) {
  const started = Date.now();
  const f = await openFirefoxIn(firefoxHome, domain);
  const c = await openIn(chromiumHome, domain);
  const chromium = Tab.chromium(c);
  chromium.id = c.id;
  for (const [tab, other] of [[f, chromium], [chromium, f]]) {
    assert.equal((await connectedRow(tab, other.id)).verified, true, `${tab.kind} did not verify ${other.kind}`);
  }
  const paths = { firefox: await pathShown(f, chromium.id), chromium: await pathShown(chromium, f.id) };
  console.log(`Firefox in ${firefoxHome} (${homes[firefoxHome].kind}) and Chromium in ${chromiumHome} (${homes[chromiumHome].kind}): connected ${Date.now() - started} ms after the first page opened; Firefox says "${paths.firefox}", Chromium says "${paths.chromium}"`);
  await send(f, "from Firefox behind its NAT", chromium.id);
  await shown(chromium, "from Firefox behind its NAT");
  await send(chromium, "from Chromium behind its NAT", f.id);
  await shown(f, "from Chromium behind its NAT");
  assert.deepEqual(f.problems, [], "the Firefox page");
  assert.deepEqual(c.problems, [], "the Chromium page");
  return paths;
}

test("a Firefox page behind a cone NAT and a Chromium page behind a symmetric NAT connect straight through them", { timeout: 120_000 }, async () => {
  const paths = await meetFirefox("cone-b", "symmetric-a", "mixed.seedmesh.test");
  assert.equal(paths.firefox, "direct through NAT (STUN)");
  assert.equal(paths.chromium, "direct through NAT (STUN)");
});

test("a Firefox page and a Chromium page behind symmetric NATs fall back to TURN", { timeout: 120_000 }, async () => {
  const paths = await meetFirefox("symmetric-b", "symmetric-a", "symmetric.seedmesh.test");
  for (const path of Object.values(paths)) assert.ok(RELAYED.includes(path), path);
  assert.ok(Object.values(paths).includes("relayed by TURN over UDP"), JSON.stringify(paths));
});

test("a Firefox page behind a firewall that drops UDP falls back to TURN over TCP", { timeout: 120_000 }, async () => {
  const paths = await meetFirefox("firewalled", "restricted-a", "firewall.seedmesh.test");
  assert.equal(paths.firefox, "relayed by TURN over TCP");
  assert.ok(RELAYED.includes(paths.chromium), paths.chromium);
});
