// What a WebAssembly module is made of: the bytes of each function body, attributed to the crate
// its name starts with (the name section of the linker's output, before wasm-bindgen and
// wasm-opt), plus the data section. Used by `make bench` to say where the page's weight goes.
import { readFile } from "node:fs/promises";

/** Reads one module's sections: `{ id, name, start, end }` each. */
function sections(bytes) {
  const out = [];
  const r = reader(bytes, 8);
  while (r.pos < bytes.length) {
    const id = bytes[r.pos++];
    const len = r.leb();
    const start = r.pos;
    let name = "";
    if (id === 0) name = r.str();
    out.push({ id, name, start, body: r.pos, end: start + len });
    r.pos = start + len;
  }
  return out;
}

function reader(bytes, pos) {
  const r = {
    pos,
    leb() {
      let value = 0;
      let shift = 0;
      let byte;
      do {
        byte = bytes[r.pos++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte & 0x80);
      return value;
    },
    str() {
      const n = r.leb();
      const s = bytes.subarray(r.pos, r.pos + n).toString("utf8");
      r.pos += n;
      return s;
    },
  };
  return r;
}

/** How many functions the module imports: they come first in the function index space. */
function importedFunctions(bytes, section) {
  const r = reader(bytes, section.body);
  let functions = 0;
  for (let n = r.leb(); n > 0; n--) {
    r.str();
    r.str();
    const kind = bytes[r.pos++];
    if (kind === 0) {
      functions++;
      r.leb();
    } else if (kind === 1) {
      r.pos++;
      limits(r);
    } else if (kind === 2) {
      limits(r);
    } else if (kind === 3) {
      r.pos += 2;
    } else {
      r.pos++;
      r.leb();
    }
  }
  return functions;
}

function limits(r) {
  const flags = r.leb();
  r.leb();
  if (flags & 1) r.leb();
}

/**
 * The crate a Rust symbol belongs to: the first path segment of a legacy-mangled (`_ZN…E`) name,
 * or, for a trait impl (`<alloc::vec::Vec<T> as core::fmt::Debug>`), the crate of its type.
 */
export function crateOf(symbol) {
  const mangled = /^_ZN(\d+)/.exec(symbol);
  if (mangled) {
    const first = symbol.substr(mangled[0].length, Number(mangled[1]));
    const path = /([A-Za-z_][A-Za-z0-9_]*)\.\./.exec(first);
    return path ? path[1] : first;
  }
  // v0 mangling (`_R…`, the precompiled standard library): the first crate root, `C…<len><name>`.
  const v0 = /^_R.*?C(?:s[0-9A-Za-z]*_)?(\d+)/.exec(symbol);
  if (v0) return symbol.substr(v0.index + v0[0].length, Number(v0[1]));
  const m = /([A-Za-z_][A-Za-z0-9_]*)::/.exec(symbol);
  if (m) return m[1];
  if (symbol.startsWith("__wbg") || symbol.startsWith("__wbindgen")) return "wasm_bindgen";
  return "(unnamed)";
}

/** The parts of the page's code, by crate family. */
const FAMILIES = [
  ["Leptos (leptos, tachys, reactive_graph, …)", /^(leptos\w*|tachys|reactive_graph|reactive_stores|any_spawner|or_poisoned|throw_error|oco_ref|hydration_context|server_fn\w*|next_tuple|send_wrapper|guardian|slotmap)$/],
  ["seedmesh_core", /^seedmesh_core$/],
  ["seedmesh_web", /^seedmesh_web$/],
  ["seedmesh_app", /^seedmesh_app$/],
  ["serde, serde_json", /^serde(_json|_core)?$/],
  ["wasm-bindgen, js-sys, web-sys", /^(wasm_bindgen\w*|js_sys|web_sys|gloo\w*)$/],
  ["Rust std (core, alloc, std)", /^(core|alloc|std|dlmalloc|compiler_builtins|__rustc)$/],
  ["hashbrown, indexmap", /^(hashbrown|indexmap)$/],
  ["futures", /^(futures\w*|pin_project\w*|async_\w+)$/],
  ["ed25519, curve25519, sha2", /^(ed25519\w*|curve25519\w*|sha2|digest|block_buffer|subtle|signature|zeroize)$/],
];

/**
 * The function body bytes of the module at `path`, grouped by crate family, largest first:
 * `{ total, data, parts: [{ part, bytes, crates: [[crate, bytes], …] }] }`.
 */
export async function wasmParts(path) {
  const bytes = await readFile(path);
  const all = sections(bytes);
  const imports = all.find((s) => s.id === 2);
  const firstDefined = imports ? importedFunctions(bytes, imports) : 0;
  const names = new Map();
  const nameSection = all.find((s) => s.id === 0 && s.name === "name");
  if (nameSection) {
    const r = reader(bytes, nameSection.body);
    while (r.pos < nameSection.end) {
      const sub = bytes[r.pos++];
      const len = r.leb();
      const end = r.pos + len;
      if (sub === 1) {
        for (let n = r.leb(); n > 0; n--) {
          const index = r.leb();
          names.set(index, r.str());
        }
      }
      r.pos = end;
    }
  }
  const byCrate = new Map();
  const code = all.find((s) => s.id === 10);
  let total = 0;
  if (code) {
    const r = reader(bytes, code.body);
    const count = r.leb();
    for (let i = 0; i < count; i++) {
      const size = r.leb();
      r.pos += size;
      total += size;
      const crate = crateOf(names.get(firstDefined + i) ?? "");
      byCrate.set(crate, (byCrate.get(crate) ?? 0) + size);
    }
  }
  const data = all.filter((s) => s.id === 11).reduce((n, s) => n + (s.end - s.start), 0);
  const parts = new Map();
  for (const [crate, size] of byCrate) {
    const family = FAMILIES.find(([, re]) => re.test(crate))?.[0] ?? "other crates";
    const part = parts.get(family) ?? { part: family, bytes: 0, crates: [] };
    part.bytes += size;
    part.crates.push([crate, size]);
    parts.set(family, part);
  }
  const sorted = [...parts.values()].sort((a, b) => b.bytes - a.bytes);
  for (const p of sorted) p.crates.sort((a, b) => b[1] - a[1]);
  return { total, data, parts: sorted };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const parts = await wasmParts(process.argv[2]);
  for (const p of parts.parts) {
    console.log(`${(p.bytes / 1024).toFixed(1).padStart(8)} KiB ${((100 * p.bytes) / parts.total).toFixed(1).padStart(5)} %  ${p.part}: ${p.crates.slice(0, 6).map(([c, n]) => `${c} ${(n / 1024).toFixed(0)}`).join(", ")}`);
  }
  console.log(`code ${parts.total}, data ${parts.data}`);
}
