// What runs in each home of the NAT lab (scripts/natlab.sh), on the home's loopback: the release
// build of the page on port 8080, and TCP forwards of the ports the page reaches on 127.0.0.1 (the
// DoH resolver it was built with, the PeerServer the seed records name) to the lab's public
// server. The page's Content-Security-Policy allows http and ws on 127.0.0.1 only, as a deployed
// page allows https and wss only; WebRTC, STUN and TURN go through the home's NAT untouched.
//
// usage: node tests/natlab/home.mjs DIST PUBLIC_ADDRESS PORT...
import { createConnection, createServer } from "node:net";
import { serveStatic } from "../e2e/support.mjs";

const [dist, publicAddress, ...ports] = process.argv.slice(2);
if (!dist || !publicAddress || ports.length === 0) {
  console.error("usage: home.mjs DIST PUBLIC_ADDRESS PORT...");
  process.exit(2);
}

await serveStatic(dist, "/", 8080);
for (const port of ports.map(Number)) {
  const server = createServer((inside) => {
    const outside = createConnection({ host: publicAddress, port });
    inside.pipe(outside).pipe(inside);
    const close = () => {
      inside.destroy();
      outside.destroy();
    };
    inside.on("error", close);
    outside.on("error", close);
    inside.on("close", close);
    outside.on("close", close);
  });
  await new Promise((ok) => server.listen(port, "127.0.0.1", ok));
}
console.log(`home: page on 127.0.0.1:8080, forwarding ${ports.join(", ")} to ${publicAddress}`);
