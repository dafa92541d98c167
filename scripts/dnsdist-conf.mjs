// Renders a dnsdist configuration that serves a zone fixture over DNS-over-HTTPS, on loopback or
// on the address SEEDMESH_DNS_ADDRESS names.
//
// usage: node scripts/dnsdist-conf.mjs ZONE_FILE DOH_PORT DNS_PORT > dnsdist.conf
//
// The fixture is a small subset of zone-file syntax, one record a line:
//   NAME TTL IN TXT "string" "string" ...   answers TXT queries for NAME (several lines: an RRset)
//   NAME CNAME TARGET                        answers any query for NAME with that CNAME, plus
//                                            TARGET's TXT records when it has some
//   NAME SERVFAIL | REFUSED | NOERROR        answers with that code and no records
// Lines starting with ';' are comments. `${VAR}` is replaced by the environment variable VAR.
// Every other name gets NXDOMAIN.
import { readFileSync } from "node:fs";

const [zoneFile, dohPort, dnsPort] = process.argv.slice(2);
if (!zoneFile || !dohPort || !dnsPort) {
  console.error("usage: dnsdist-conf.mjs ZONE_FILE DOH_PORT DNS_PORT");
  process.exit(2);
}

const address = process.env.SEEDMESH_DNS_ADDRESS ?? "127.0.0.1";
if (!/^[0-9.]+$/.test(address)) throw new Error(`SEEDMESH_DNS_ADDRESS: ${address} is not an IPv4 address`);

const text = readFileSync(zoneFile, "utf8").replace(/\$\{(\w+)\}/g, (_, name) => {
  if (process.env[name] === undefined) throw new Error(`${zoneFile}: \${${name}} is not set`);
  return process.env[name];
});

const txt = new Map(); // name -> { ttl, records: [[string]] }
const cnames = new Map();
const rcodes = new Map();
for (const [index, raw] of text.split("\n").entries()) {
  const line = raw.trim();
  if (line === "" || line.startsWith(";")) continue;
  const where = `${zoneFile}:${index + 1}`;
  const name = line.split(/\s+/, 1)[0].toLowerCase().replace(/\.?$/, ".");
  const rest = line.slice(line.split(/\s+/, 1)[0].length).trim();
  let m;
  if ((m = rest.match(/^(\d+)\s+IN\s+TXT\s+(.*)$/))) {
    const strings = [...m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((s) =>
      s[1].replace(/\\(\d{3}|.)/g, (_, e) => (e.length === 3 ? String.fromCharCode(+e) : e)),
    );
    if (strings.length === 0) throw new Error(`${where}: a TXT record needs quoted strings`);
    for (const s of strings) {
      if (Buffer.byteLength(s, "latin1") > 255) throw new Error(`${where}: a string over 255 bytes`);
    }
    const entry = txt.get(name) ?? { ttl: +m[1], records: [] };
    entry.records.push(strings);
    txt.set(name, entry);
  } else if ((m = rest.match(/^CNAME\s+(\S+)$/))) {
    cnames.set(name, m[1].toLowerCase().replace(/\.?$/, "."));
  } else if ((m = rest.match(/^(SERVFAIL|REFUSED|NOERROR)$/))) {
    rcodes.set(name, m[1]);
  } else {
    throw new Error(`${where}: cannot read "${line}"`);
  }
}

const lua = (s) =>
  '"' +
  [...Buffer.from(s, "latin1")]
    .map((b) =>
      b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
        ? String.fromCharCode(b)
        : "\\" + String(b).padStart(3, "0"),
    )
    .join("") +
  '"';
const rdata = (strings) =>
  strings.map((s) => `string.char(${Buffer.byteLength(s, "latin1")}) .. ${lua(s)}`).join(" .. ");

const out = [
  'setSecurityPollSuffix("")',
  `setLocal("${address}:${dnsPort}")`,
  `addDOHLocal("${address}:${dohPort}", nil, nil, "/dns-query", {`,
  '  customResponseHeaders = { ["access-control-allow-origin"] = "*" },',
  "})",
];
// Off loopback, clients come from any address (the NAT lab's routers' public ones).
if (address !== "127.0.0.1") out.push('setACL({"0.0.0.0/0"})');
for (const [name, { ttl, records }] of txt) {
  out.push(
    `addAction(AndRule({QNameRule(${lua(name)}), QTypeRule(DNSQType.TXT)}),`,
    `  SpoofRawAction({ ${records.map(rdata).join(", ")} }, { ttl = ${ttl} }))`,
  );
}
for (const [name, target] of cnames) {
  out.push(`addAction(QNameRule(${lua(name)}), SpoofCNAMEAction(${lua(target)}))`);
}
for (const [name, rcode] of rcodes) {
  out.push(`addAction(QNameRule(${lua(name)}), RCodeAction(DNSRCode.${rcode}))`);
}
out.push("addAction(AllRule(), RCodeAction(DNSRCode.NXDOMAIN))");
console.log(out.join("\n"));
