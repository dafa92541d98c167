// The release build mounts and works under a GitHub Pages style sub-path.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { root, serveStatic, launchBrowser, newPage, screenshot } from "./support.mjs";

let server;
let browser;

before(async () => {
  server = await serveStatic(join(root, "dist"), "/seedmesh/sub/");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the app mounts under a sub-path, with every asset found", async () => {
  const { page, context, problems } = await newPage(browser);
  const response = await page.goto(server.url);
  assert.equal(response.status(), 200);
  await page.getByRole("heading", { level: 1, name: "seedmesh" }).waitFor({ timeout: 15_000 });
  for (const panel of ["Connection", "Peers", "Messages"]) {
    await page.getByRole("heading", { level: 2, name: panel }).waitFor({ timeout: 5_000 });
  }
  assert.deepEqual(problems, []);
  console.log("screenshot:", await screenshot(page, "app-desktop"));
  await page.setViewportSize({ width: 390, height: 844 });
  console.log("screenshot:", await screenshot(page, "app-phone"));
  await context.close();
});

test("an unknown path under the sub-path serves the app with status 404", async () => {
  const { page, context, problems } = await newPage(browser);
  const response = await page.goto(`${server.url}no-such-page`);
  assert.equal(response.status(), 404);
  await page.getByRole("heading", { level: 1, name: "seedmesh" }).waitFor({ timeout: 15_000 });
  assert.deepEqual(problems, []);
  await context.close();
});

test("the build has .nojekyll, so GitHub Pages serves it as it is", async () => {
  const response = await fetch(`${server.url}.nojekyll`);
  assert.equal(response.status, 200);
});

test("the page runs under its Content-Security-Policy with no violation", async () => {
  const { page, context, problems } = await newPage(browser);
  await page.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.cspViolations.push(`${e.violatedDirective}: ${e.blockedURI}`),
    );
  });
  await page.goto(server.url);
  await page.getByRole("heading", { level: 1, name: "seedmesh" }).waitFor({ timeout: 15_000 });
  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute("content");
  assert.match(policy, /default-src 'none'/);
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
  // The app discovers the network (DoH over fetch) and registers (a WebSocket) under it.
  await page.getByTestId("signaling").filter({ hasText: "registered as" }).waitFor({ timeout: 20_000 });
  // An inline script is what the policy is for: one injected now must not run.
  const ran = await page.evaluate(() => {
    window.injected = false;
    const script = document.createElement("script");
    script.textContent = "window.injected = true";
    document.body.append(script);
    return window.injected;
  });
  assert.equal(ran, false);
  const violations = await page.evaluate(() => window.cspViolations);
  // Exactly the one blocked on purpose.
  assert.deepEqual(violations, ["script-src-elem: inline"]);
  assert.deepEqual(problems.filter((p) => !p.includes("Content Security Policy")), []);
  await context.close();
});
