// Audio and video calls, with Chromium's fake camera and microphone: the app calls a real
// PeerJS 1.5.5 client and is called by one (PeerJS's own `peer.call` and `call.answer`), and
// two app pages call each other. Each time both sides see the other's video playing; mute,
// camera off and hang up do what they say, and the other side hears the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appAndPeerjsSuite, screenshot } from "./support.mjs";

const WAIT = { timeout: 30_000 };
// A fake camera (a moving test pattern) and microphone (a beep), allowed without asking.
const { openApp, openPeerjs } = appAndPeerjsSuite(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]);

/** The app's line for its one call. */
const callLine = (page) => page.locator("[data-testid=calls] li.call").first();

/** Waits until the app's call is active and the other side's video plays in it. */
async function appPlaying(page) {
  await callLine(page).and(page.locator("[data-state=active]")).waitFor(WAIT);
  return page.waitForFunction(
    () => {
      const video = document.querySelector("[data-testid=calls] [data-testid=remote-media]");
      if (!(video && video.srcObject && video.readyState >= 2 && video.currentTime > 0.5 && !video.paused)) return null;
      return {
        videoWidth: video.videoWidth,
        tracks: video.srcObject.getTracks().map((t) => `${t.kind}:${t.readyState}`).sort(),
      };
    },
    null,
    WAIT,
  ).then((handle) => handle.jsonValue());
}

/** Whether the app's own audio and video go out, as its preview's tracks say. */
const sending = (page) =>
  page.evaluate(() => {
    const stream = document.querySelector("[data-testid=calls] [data-testid=local-media]").srcObject;
    return { audio: stream.getAudioTracks()[0].enabled, video: stream.getVideoTracks()[0].enabled };
  });

/** Keeps the app's own camera and microphone tracks, to see later that they were let go. */
const keepOwnTracks = (page) =>
  page.evaluate(() => {
    window.ownTracks = document.querySelector("[data-testid=calls] [data-testid=local-media]").srcObject.getTracks();
  });
const ownTrackStates = (page) => page.evaluate(() => window.ownTracks.map((t) => `${t.kind}:${t.readyState}`).sort());

const button = (page, name) => callLine(page).getByRole("button", { name, exact: true });

test("the app calls a PeerJS client, which answers: both see the other's video; mute, camera off, hang up", { timeout: 120_000 }, async () => {
  const a = await openApp();
  const j = await openPeerjs();
  await j.page.evaluate(() => pj.answerCalls());
  // The client connects first, so the app lists it, with a button to call it.
  await j.page.evaluate((to) => pj.connectDefault(to), a.id);
  const row = a.page.locator(`[data-testid=peer-list] li[data-peer-id="${j.id}"][data-state=connected]`);
  await row.getByRole("button", { name: "Video call" }).click();
  await callLine(a.page).filter({ hasText: /Calling|Connecting|In a video call/ }).waitFor(WAIT);

  const handle = await j.page.evaluate(() => pj.answeredCall());
  const theirs = await j.page.evaluate((h) => pj.remotePlaying(h), handle);
  assert.deepEqual(theirs.tracks, ["audio:live", "video:live"]);
  assert.ok(theirs.videoWidth > 0, "the PeerJS page shows no picture from the app");
  const ours = await appPlaying(a.page);
  assert.deepEqual(ours.tracks, ["audio:live", "video:live"]);
  assert.ok(ours.videoWidth > 0, "the app shows no picture from the PeerJS page");
  await callLine(a.page).filter({ hasText: `In a video call with ${j.id}` }).waitFor(WAIT);
  console.log("screenshot:", await screenshot(a.page, "call-desktop"));
  await a.page.setViewportSize({ width: 390, height: 844 });
  console.log("screenshot:", await screenshot(a.page, "call-phone"));
  await a.page.setViewportSize({ width: 1280, height: 800 });

  assert.deepEqual(await sending(a.page), { audio: true, video: true });
  await button(a.page, "Mute").click();
  await button(a.page, "Unmute").waitFor(WAIT);
  assert.deepEqual(await sending(a.page), { audio: false, video: true });
  await button(a.page, "Camera off").click();
  await button(a.page, "Camera on").waitFor(WAIT);
  assert.deepEqual(await sending(a.page), { audio: false, video: false });
  await button(a.page, "Unmute").click();
  await button(a.page, "Mute").waitFor(WAIT);
  assert.deepEqual(await sending(a.page), { audio: true, video: false });

  // Hanging up reaches PeerJS, whose call closes, and lets go of the camera and microphone.
  await keepOwnTracks(a.page);
  await button(a.page, "Hang up").click();
  await callLine(a.page).filter({ hasText: "ended: you hung up" }).waitFor(WAIT);
  await j.page.evaluate((h) => pj.waitCallClosed(h), handle);
  assert.deepEqual(await ownTrackStates(a.page), ["audio:ended", "video:ended"]);
  assert.deepEqual(await j.page.evaluate(() => pj.errors), []);
  assert.deepEqual(a.problems, []);
});

test("a PeerJS client calls the app, which answers: both see the other's video; the client hangs up", { timeout: 120_000 }, async () => {
  const a = await openApp();
  const j = await openPeerjs();
  const handle = await j.page.evaluate((to) => pj.callPeer(to), a.id);
  await callLine(a.page).filter({ hasText: `${j.id} is calling you (video)` }).waitFor(WAIT);
  // The tab's title says so too, for a person looking at another tab.
  assert.equal(await a.page.title(), "Incoming call · seedmesh");
  console.log("screenshot:", await screenshot(a.page, "call-ringing-desktop"));
  await button(a.page, "Answer").click();

  const ours = await appPlaying(a.page);
  assert.deepEqual(ours.tracks, ["audio:live", "video:live"]);
  assert.equal(await a.page.title(), "seedmesh");
  const theirs = await j.page.evaluate((h) => pj.remotePlaying(h), handle);
  assert.deepEqual(theirs.tracks, ["audio:live", "video:live"]);
  await keepOwnTracks(a.page);

  await j.page.evaluate((h) => pj.hangUp(h), handle);
  await callLine(a.page).filter({ hasText: "ended: they hung up" }).waitFor(WAIT);
  // The camera and microphone are let go once the call ends.
  assert.deepEqual(await ownTrackStates(a.page), ["audio:ended", "video:ended"]);
  await button(a.page, "Dismiss").click();
  await a.page.getByTestId("calls").waitFor({ state: "detached", ...WAIT });
  assert.deepEqual(a.problems, []);
});

test("two app pages call each other: a declined call, then an answered one", { timeout: 150_000 }, async () => {
  const a = await openApp();
  const b = await openApp();
  // Pages from the tests before are in the room too: these two link like any others.
  const linked = (page, id) => page.locator(`[data-testid=peer-list] li[data-peer-id="${id}"][data-state=connected]`).waitFor(WAIT);
  await linked(a.page, b.id);
  await linked(b.page, a.id);

  // Declined first. PeerJS signaling has no decline: the caller rings on until it cancels
  // (or the call rings out).
  await a.page.locator(`[data-testid=peer-list] li[data-peer-id="${b.id}"]`).getByRole("button", { name: "Audio call" }).click();
  await callLine(b.page).filter({ hasText: "is calling you (audio)" }).waitFor(WAIT);
  await button(b.page, "Decline").click();
  await callLine(b.page).filter({ hasText: "ended: you declined" }).waitFor(WAIT);
  await button(b.page, "Dismiss").click();
  await button(a.page, "Hang up").click();
  await callLine(a.page).filter({ hasText: "ended: you cancelled the call" }).waitFor(WAIT);
  await button(a.page, "Dismiss").click();

  // Then answered: both see each other, and the callee hangs up.
  await b.page.locator(`[data-testid=peer-list] li[data-peer-id="${a.id}"]`).getByRole("button", { name: "Video call" }).click();
  await callLine(a.page).filter({ hasText: "is calling you (video)" }).waitFor(WAIT);
  await button(a.page, "Answer").click();
  const [atA, atB] = await Promise.all([appPlaying(a.page), appPlaying(b.page)]);
  assert.deepEqual(atA.tracks, ["audio:live", "video:live"]);
  assert.deepEqual(atB.tracks, ["audio:live", "video:live"]);
  await button(a.page, "Hang up").click();
  await callLine(b.page).filter({ hasText: "ended: they hung up" }).waitFor(WAIT);
  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
});
