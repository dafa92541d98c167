// A TCP server that accepts every connection and never answers: a DoH resolver that hangs.
//
// usage: node scripts/hang-server.mjs PORT
import { createServer } from "node:net";

const port = Number(process.argv[2]);
if (!port) {
  console.error("usage: hang-server.mjs PORT");
  process.exit(2);
}
const sockets = new Set();
createServer((socket) => {
  sockets.add(socket);
  socket.on("error", () => {});
  socket.on("close", () => sockets.delete(socket));
  socket.on("data", () => {}); // read the request, say nothing
}).listen(port, "127.0.0.1", () => console.log(`hang-server: listening on 127.0.0.1:${port}`));
