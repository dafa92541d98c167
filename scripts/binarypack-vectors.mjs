// Writes what PeerJS 1.5.5's BinaryPack (peerjs-js-binarypack, from node_modules) packs for a set
// of values, and the chunks PeerJS splits a long message into, as JSON: the Rust BinaryPack's
// tests check their bytes against it (crates/seedmesh-core/src/binarypack/vectors.json).
//
//   node scripts/binarypack-vectors.mjs > crates/seedmesh-core/src/binarypack/vectors.json
//
// Each value is also written in a tagged form the Rust tests read: {"int":n}, {"float":n or
// "NaN"}, {"text":s}, {"bin":hex}, {"null":true}, {"undefined":true}, {"bool":b}, {"array":[…]},
// {"map":[[k,v],…]}: the value given to pack as "input", and what unpack made of its bytes as
// "unpacked" (they differ where PeerJS is quirky: NaN, 2^63, 2^64, undefined, -0).
import { pack, unpack } from "peerjs-js-binarypack";
import { util } from "peerjs/dist/bundler.mjs";

const hex = (buffer) => Buffer.from(buffer).toString("hex");
const bytes = (n, seed = 7) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256);

/** The tagged form of a value as it comes out of unpack. */
function tagged(value) {
  if (value === null) return { null: true };
  if (value === undefined) return { undefined: true };
  if (typeof value === "boolean") return { bool: value };
  if (typeof value === "number") {
    if (Number.isNaN(value)) return { float: "NaN" };
    return Number.isInteger(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? { int: value } : { float: value };
  }
  if (typeof value === "string") return { text: value };
  if (value instanceof ArrayBuffer) return { bin: hex(value) };
  if (ArrayBuffer.isView(value)) return { bin: hex(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  if (Array.isArray(value)) return { array: value.map(tagged) };
  return { map: Object.entries(value).map(([k, v]) => [k, tagged(v)]) };
}

const values = {
  zero: 0,
  "fixint 127": 127,
  "uint8 128": 128,
  "uint8 255": 255,
  "uint16 256": 256,
  "fixint -1": -1,
  "fixint -32": -32,
  "int8 -33": -33,
  "int8 -128": -128,
  "int16 -129": -129,
  "uint16 65535": 65535,
  "uint32 65536": 65536,
  "int16 -32768": -32768,
  "int32 -32769": -32769,
  "uint32 max": 2 ** 32 - 1,
  "int64 2^32": 2 ** 32,
  "int32 min": -(2 ** 31),
  "int64 below int32": -(2 ** 31) - 1,
  "int64 max safe": Number.MAX_SAFE_INTEGER,
  "int64 min safe": -Number.MAX_SAFE_INTEGER,
  "negative zero": -0,
  "double 1.5": 1.5,
  "double -0.25": -0.25,
  "double pi": Math.PI,
  "double 0.1": 0.1,
  "double tiny": 1e-300,
  "double huge fraction": 123456789.123,
  "double NaN": NaN,
  "2^63": 2 ** 63,
  "1.5 * 2^63": 1.5 * 2 ** 63,
  "2^64": 2 ** 64,
  "null": null,
  "undefined": undefined,
  "true": true,
  "false": false,
  "empty text": "",
  "text of 15": "abcdefghijklmno",
  "text of 16": "abcdefghijklmnop",
  "unicode text": "Zoë 👋🏽 <b>&</b>",
  "text of 70000": "x".repeat(70000),
  "empty bytes": new Uint8Array(0).buffer,
  "bytes of 15": bytes(15).buffer,
  "bytes of 16": bytes(16).buffer,
  "bytes of 70000": bytes(70000).buffer,
  "typed array": new Uint16Array([1, 2, 65535]),
  "empty array": [],
  "array": [1, "a", null, true, 2.5],
  "array of 16": Array.from({ length: 16 }, (_, i) => i),
  "nested": [[[]], { a: [{}] }],
  "empty map": {},
  "map": { text: "hi", n: -5, list: [false, null], bin: bytes(3).buffer },
  "map of 16": Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
  "close": { __peerData: { type: "close" } },
};

// Long values are written as how to make them: ["x", n] is "x" n times, [n, seed] the bytes
// (i * 31 + seed) % 256 for i below n; and their packed form as its first bytes and length.
const long = {
  "text of 70000": { text_repeat: ["x", 70000] },
  "bytes of 70000": { bytes_made: [70000, 7] },
};

const out = { values: [], chunks: null };
for (const [name, value] of Object.entries(values)) {
  const packed = pack(value);
  if (long[name]) {
    out.values.push({ name, made: long[name], packed_head: hex(packed.slice(0, 8)), packed_len: packed.byteLength });
  } else {
    out.values.push({ name, input: tagged(value), packed: hex(packed), unpacked: tagged(unpack(packed)) });
  }
}
// A message PeerJS sends in chunks: 40,000 bytes made with seed 3, packed, then split. Each
// frame is written as the bytes before its data and after it; its data is the next part of
// the packed message.
const message = pack(bytes(40_000, 3).buffer);
out.chunks = {
  message_made: [40_000, 3],
  frames: util.chunk(message).map((chunk) => {
    const frame = new Uint8Array(pack(chunk));
    const data = chunk.data.byteLength;
    // The data starts after the "data" key (b4 64 61 74 61) and its length header (da + u16).
    const start = Buffer.from(frame).indexOf(Buffer.from([0xb4, 0x64, 0x61, 0x74, 0x61])) + 5 + 3;
    return { before: hex(frame.slice(0, start)), data_len: data, after: hex(frame.slice(start + data)) };
  }),
};
console.log(JSON.stringify(out, null, 1));
