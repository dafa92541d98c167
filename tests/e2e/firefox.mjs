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

/** Headless Firefox ESR. */
export function launchFirefox() {
  return puppeteer.launch({
    browser: "firefox",
    executablePath: firefoxOptions.binary,
    headless: true,
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
