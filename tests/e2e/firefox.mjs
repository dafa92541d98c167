// Stock Firefox (Debian's firefox-esr) for the cross-browser suite, driven over WebDriver BiDi
// by puppeteer-core: Playwright's Firefox is a patched build of its own, and the Firefox people
// run is this one.
//
// Pages of either browser are wrapped as a `Tab` with the few operations the suite needs, so a
// scenario reads the same whichever browser each page is in.
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import puppeteer from "puppeteer-core";
import { root, screenshots, watchProblems } from "./support.mjs";

/**
 * Firefox's binary and preferences, the ones the web crate's wasm-bindgen-test suite runs
 * Firefox with (crates/seedmesh-web/webdriver.json): host candidates as addresses rather than
 * mDNS names, STUN and TURN on 127.0.0.1 allowed, fake camera and microphone.
 */
const firefoxOptions = JSON.parse(readFileSync(join(root, "crates/seedmesh-web/webdriver.json"), "utf8"))[
  "moz:firefoxOptions"
];

/**
 * Headless Firefox ESR; `executablePath` may be a wrapper that starts it elsewhere (in a network
 * namespace, say), and `args` are passed on.
 */
export function launchFirefox({ executablePath = firefoxOptions.binary, args = [] } = {}) {
  return puppeteer.launch({
    browser: "firefox",
    executablePath,
    headless: true,
    args,
    extraPrefsFirefox: firefoxOptions.prefs,
  });
}

/** How long a tab waits for what it is told to wait for, unless told otherwise. */
const WAIT_MS = 20_000;

/**
 * One page of either browser. `kind` is "firefox" or "chromium"; `problems` collects the page's
 * uncaught errors, console errors, failed requests and HTTP errors.
 */
export class Tab {
  constructor(kind, page, problems) {
    this.kind = kind;
    this.page = page;
    this.problems = problems;
  }

  /** A new Firefox tab in a fresh browsing context (its own storage, as a new profile has). */
  static async firefox(browser, viewport = { width: 1280, height: 800 }) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport(viewport);
    // Firefox asks every site for /favicon.ico by itself; a page without one is no problem.
    const problems = watchProblems(page, (url) => new URL(url).pathname === "/favicon.ico");
    const tab = new Tab("firefox", page, problems);
    tab.close = () => context.close();
    return tab;
  }

  /** Wraps a Playwright page from support.mjs's `newPage`. */
  static chromium({ page, context, problems }) {
    const tab = new Tab("chromium", page, problems);
    tab.close = () => context.close();
    return tab;
  }

  goto(url) {
    return this.page.goto(url);
  }

  /** Runs `fn(arg)` in the page; both drivers take one argument the same way. */
  evaluate(fn, arg) {
    return this.page.evaluate(fn, arg);
  }

  /** Polls `fn(arg)` in the page until it returns something truthy, and resolves to that. */
  async until(what, fn, arg, timeout = WAIT_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const value = await this.evaluate(fn, arg);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`${this.kind}: timed out after ${timeout} ms waiting for ${what}`);
      await new Promise((wake) => setTimeout(wake, 100));
    }
  }

  /** Chooses `value` in the <select> `selector`, as a person does. */
  async select(selector, value) {
    if (this.kind === "firefox") await this.page.select(selector, value);
    else await this.page.selectOption(selector, value);
  }

  /** Types `text` into the field `selector`, replacing what it held. */
  async fill(selector, text) {
    await this.page.locator(selector).fill(text);
  }

  async click(selector) {
    await this.page.locator(selector).click();
  }

  /** Chooses the file at `path` in the file input `selector`. */
  async chooseFile(selector, path) {
    if (this.kind === "firefox") await (await this.page.$(selector)).uploadFile(path);
    else await this.page.setInputFiles(selector, path);
  }

  async setViewport(viewport) {
    if (this.kind === "firefox") await this.page.setViewport(viewport);
    else await this.page.setViewportSize(viewport);
  }

  /** Saves a full-page screenshot as target/e2e-screenshots/NAME.png and returns its path. */
  async screenshot(name) {
    await mkdir(screenshots, { recursive: true });
    const path = join(screenshots, `${name}.png`);
    await this.page.screenshot({ path, fullPage: true });
    return path;
  }
}

// What a person does with the app, in a tab of either browser.

/** Waits until the app in `tab` registered on its PeerServer, and sets `tab.id` to the ID it took. */
export async function registered(tab, timeout) {
  const text = await tab.until("registration", () => {
    const signaling = document.querySelector("[data-testid=signaling]")?.textContent ?? "";
    return /registered as \S+/.test(signaling) && signaling;
  }, undefined, timeout);
  tab.id = /registered as (\S+)/.exec(text)[1];
  return tab;
}

/** The app's row for `id` once connected: the name it shows, whether it is verified or a PeerJS client. */
export function connectedRow(tab, id) {
  return tab.until(`${id} connected`, (id) => {
    const row = document.querySelector(`[data-testid=peer-list] li[data-peer-id="${id}"][data-state=connected]`);
    return row && {
      name: row.querySelector(".peer-name").textContent,
      verified: row.querySelector(".verified") !== null,
      client: row.querySelector("[data-testid=peerjs-client]") !== null,
    };
  }, id);
}

/** The path column of the app's row for `id`, once the connection's path was read. */
export function pathTo(tab, id) {
  return tab.until(`the path to ${id}`, (id) =>
    document.querySelector(`[data-testid=peer-list] li[data-peer-id="${id}"] [data-testid=peer-path]`)?.textContent,
  id);
}

/** Sends `text` from the app's composer, to the room or to `to`. */
export async function send(tab, text, to = "") {
  await tab.select("#message-to", to);
  await tab.fill("#message-text", text);
  await tab.click("form.composer button[type=submit]");
}

/** The app's line with the message `text` once shown: who it is from, and to whom. */
export function shown(tab, text) {
  return tab.until(`the message "${text}"`, (text) => {
    const line = [...document.querySelectorAll("[data-testid=messages] li.message")].find(
      (li) => li.querySelector(".message-text")?.textContent === text,
    );
    return line && { from: line.querySelector(".message-from").textContent, scope: line.querySelector(".message-scope").textContent };
  }, text);
}

/** Waits until our own line with `text` says `delivery`. */
export function delivered(tab, text, delivery) {
  return tab.until(`"${text}" ${delivery}`, ([text, delivery]) =>
    [...document.querySelectorAll("[data-testid=messages] li.mine")].some(
      (li) => li.querySelector(".message-text")?.textContent === text && li.querySelector("[data-testid=delivery]")?.textContent === delivery,
    ),
  [text, delivery]);
}
