// Plain PeerJS clients are peers in the app: a real PeerJS 1.5.5 client in its own page (no
// seedmesh code at all) connects to the app's ID on the local PeerServer, in each
// serialization. The app lists it as an unverified PeerJS client and shows what it sends as
// chat; room and direct messages reach it as plain strings, files as bytes (5 MiB each way);
// what it sends that the app cannot take is refused with a reason, and the app carries on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appAndPeerjsSuite, fnv, madeBytes, screenshot, send } from "./support.mjs";

const WAIT = { timeout: 20_000 };
const { openApp, openPeerjs } = appAndPeerjsSuite();

const js = {
  next: (p, h) => p.page.evaluate((h) => pj.nextMessage(h, 20_000), h),
  send: (p, h, v) => p.page.evaluate(([h, v]) => pj.send(h, v), [h, v]),
  errors: (p) => p.page.evaluate(() => pj.errors),
};

/** The app's row for the client `id`, once it shows it as a PeerJS client. */
async function clientRow(page, id) {
  const row = page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"][data-state=connected]`);
  await row.getByTestId("peerjs-client").waitFor(WAIT);
  return row;
}

/** Waits until the app shows a message with `text` from `from`, to it alone. */
async function shown(page, text, from) {
  const line = page.locator("[data-testid=messages] li", { hasText: text });
  await line.waitFor(WAIT);
  assert.equal(await line.locator(".message-from").textContent(), from);
  assert.equal(await line.locator(".message-scope").textContent(), "to you only");
}

test("PeerJS clients in every serialization chat with the app, both ways", { timeout: 120_000 }, async () => {
  const a = await openApp();
  const clients = [];
  for (const serialization of ["default", "json", "raw"]) {
    const j = await openPeerjs();
    j.handle = await j.page.evaluate(
      ([to, s]) => (s === "default" ? pj.connectDefault(to) : pj.connect(to, s)),
      [a.id, serialization],
    );
    j.serialization = serialization;
    clients.push(j);
    const row = await clientRow(a.page, j.id);
    // Nothing proves a PeerJS client's ID: no key, no "verified" mark.
    assert.equal(await row.locator(".verified").count(), 0);
  }
  for (const j of clients) {
    // A string, and an object with text, show as chat from the client.
    await js.send(j, j.handle, `hello from a ${j.serialization} client`);
    await shown(a.page, `hello from a ${j.serialization} client`, j.id);
    if (j.serialization !== "raw") {
      await js.send(j, j.handle, { type: "chat", text: `an object from ${j.serialization}` });
      await shown(a.page, `an object from ${j.serialization}`, j.id);
    }
  }
  // A room message reaches every client as a plain string; a direct one, its addressee alone.
  await send(a.page, "hello, everyone");
  for (const j of clients) assert.deepEqual(await js.next(j, j.handle), { kind: "text", value: "hello, everyone" });
  // Clients confirm nothing, and the line says so rather than waiting for them.
  const mine = a.page.locator("[data-testid=messages] li.mine", { hasText: "hello, everyone" });
  assert.equal(await mine.getByTestId("delivery").textContent(), "sent to 3 PeerJS clients, which do not confirm");
  const [first, ...others] = clients;
  await send(a.page, "just for you", first.id);
  assert.deepEqual(await js.next(first, first.handle), { kind: "text", value: "just for you" });
  await send(a.page, "and the room again");
  for (const j of others) assert.deepEqual(await js.next(j, j.handle), { kind: "text", value: "and the room again" });
  assert.deepEqual(await js.next(first, first.handle), { kind: "text", value: "and the room again" });

  console.log("screenshot:", await screenshot(a.page, "peerjs-clients-desktop"));
  await a.page.setViewportSize({ width: 390, height: 844 });
  console.log("screenshot:", await screenshot(a.page, "peerjs-clients-phone"));

  // A client that leaves leaves the list.
  await first.page.evaluate((h) => pj.close(h, true), first.handle);
  await a.page.locator(`[data-testid=peer-list] li[data-peer-id="${first.id}"]`).waitFor({ state: "detached", ...WAIT });
  for (const j of clients) assert.deepEqual(await js.errors(j), []);
  assert.deepEqual(a.problems, []);
});

test("a PeerJS client whose ID looks like a key's is still not verified", { timeout: 60_000 }, async () => {
  const a = await openApp();
  // 24 base32 letters: the shape of a seedmesh key's ID, which PeerJS lets anyone register.
  const j = await openPeerjs("abcdefghijklmnopqrstuvwx");
  assert.equal(j.id, "abcdefghijklmnopqrstuvwx");
  await j.page.evaluate((to) => pj.connect(to, "json"), a.id);
  const row = await clientRow(a.page, j.id);
  assert.equal(await row.locator(".verified").count(), 0);
  assert.deepEqual(a.problems, []);
});

test("files: 5 MiB from the app reach a default PeerJS client as bytes, and 5 MiB from it arrive as a file", { timeout: 180_000 }, async () => {
  const a = await openApp();
  const j = await openPeerjs();
  // Reliable, as PeerJS code that sends files asks for; BinaryPack as by default.
  j.handle = await j.page.evaluate((to) => pj.connect(to, "binary"), a.id);
  await clientRow(a.page, j.id);

  const big = 5 * 1024 * 1024;
  const outgoing = madeBytes(big, 7);
  await a.page.getByLabel("Send to").selectOption(j.id);
  await a.page.locator("input[type=file]").setInputFiles({ name: "five.bin", mimeType: "application/octet-stream", buffer: Buffer.from(outgoing) });
  assert.deepEqual(await js.next(j, j.handle), { kind: "bytes", len: big, fnv: fnv(outgoing) });
  await a.page.locator("[data-testid=file]", { hasText: "five.bin" }).filter({ hasText: "sent" }).waitFor(WAIT);

  await j.page.evaluate(([h, len]) => pj.sendMadeBytes(h, len, 3), [j.handle, big]);
  const file = a.page.locator("[data-testid=file]", { hasText: "peerjs-data" });
  await file.locator(".download").waitFor({ timeout: 60_000 });
  const received = await file.locator(".download").evaluate(async (link) => {
    const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
    let hash = 0x811c9dc5;
    for (const b of bytes) hash = Math.imul(hash ^ b, 16777619) >>> 0;
    return { len: bytes.length, fnv: hash.toString(16) };
  });
  assert.deepEqual(received, { len: big, fnv: fnv(madeBytes(big, 3)) });
  assert.deepEqual(await js.errors(j), []);
  assert.deepEqual(a.problems, []);
});

test("what a PeerJS client sends that the app cannot take is refused with a reason, and the app carries on", { timeout: 120_000 }, async () => {
  const a = await openApp();
  const j = await openPeerjs();
  j.handle = await j.page.evaluate((to) => pj.connectDefault(to), a.id);
  await clientRow(a.page, j.id);
  const warnings = a.page.getByTestId("warnings");

  // Bad BinaryPack: text of five bytes with two there.
  await j.page.evaluate((h) => pj.sendFrame(h, [0xb5, 0x68, 0x69]), j.handle);
  await warnings.filter({ hasText: `Ignored a message from ${j.id}` }).filter({ hasText: "unreadable" }).waitFor(WAIT);
  // A value with no text.
  await js.send(j, j.handle, 42);
  await warnings.filter({ hasText: "a number, which has no text to show" }).waitFor(WAIT);
  // Chat past the limit.
  await js.send(j, j.handle, "x".repeat(9000));
  await warnings.filter({ hasText: "9000 bytes of text" }).waitFor(WAIT);

  // The client and the page both carry on.
  await js.send(j, j.handle, "still here");
  await shown(a.page, "still here", j.id);
  await send(a.page, "so am I", j.id);
  assert.deepEqual(await js.next(j, j.handle), { kind: "text", value: "so am I" });
  console.log("screenshot:", await screenshot(a.page, "peerjs-client-refused-desktop"));
  assert.deepEqual(a.problems, []);
});
