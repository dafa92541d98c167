// Trunk post-build hook: puts a Content-Security-Policy into the built index.html, and writes
// the page as 404.html too (GitHub Pages serves it for unknown paths: the app handles them).
//
// The page runs only its own files: the wasm module, the one inline loader Trunk writes
// (allowed by its SHA-256, computed here because its text names the hashed file names), and
// its stylesheet. It may fetch and open sockets anywhere over https/wss (the DoH resolvers and
// PeerServers the seed records name are not known at build time), and over http/ws on
// loopback only (local development). Nothing may be framed, embedded or posted elsewhere.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error("csp.mjs: TRUNK_STAGING_DIR is not set; run it as a Trunk post_build hook");
  process.exit(1);
}
const file = join(dir, "index.html");
const html = readFileSync(file, "utf8");
const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
if (inline.length === 0) {
  console.error("csp.mjs: no inline loader script in index.html; the policy would not match");
  process.exit(1);
}
const hashes = inline.map((text) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`);
const loopback = "http://127.0.0.1:* ws://127.0.0.1:* http://localhost:* ws://localhost:*";
const policy = [
  "default-src 'none'",
  `script-src 'self' 'wasm-unsafe-eval' ${hashes.join(" ")}`,
  "style-src 'self'",
  "img-src 'self' data: blob:",
  `connect-src 'self' https: wss: blob: ${loopback}`,
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
].join("; ");
const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}" />`;
if (html.includes('http-equiv="Content-Security-Policy"')) {
  console.error("csp.mjs: index.html already has a policy");
  process.exit(1);
}
// The policy covers only what comes after it: put it right after the charset, before any script.
const out = html.replace(/(<meta charset="utf-8" \/>)/, `$1\n    ${meta}`);
if (out === html) {
  console.error("csp.mjs: no <meta charset> in index.html to put the policy after");
  process.exit(1);
}
writeFileSync(file, out);
writeFileSync(join(dir, "404.html"), out);
