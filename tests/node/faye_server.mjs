// A third-party Bayeux server (npm `faye`), for testing genesys_cx's CometdClient against a server
// nobody here wrote.
//
//   node faye_server.mjs <port>
//
// Serves Bayeux at /statistics/v3/notifications (and below it: the client appends the message
// type) on 127.0.0.1:<port>, prints {"event":"listening","port":N} once ready, then one JSON line
// per subscription. Each stdin line `{"channel": ..., "data": ...}` is published.
import http from "node:http";
import { createInterface } from "node:readline";
import faye from "faye";

const port = Number(process.argv[2] ?? 0);
const emit = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");

const bayeux = new faye.NodeAdapter({ mount: "/statistics/v3/notifications", timeout: 2 });
bayeux.on("subscribe", (clientId, channel) => emit("subscribe", { clientId, channel }));
bayeux.on("handshake", (clientId) => emit("handshake", { clientId }));

const server = http.createServer();
bayeux.attach(server);
server.listen(port, "127.0.0.1", () => emit("listening", { port: server.address().port }));

createInterface({ input: process.stdin }).on("line", (line) => {
  if (!line.trim()) {
    return;
  }
  const { channel, data } = JSON.parse(line);
  bayeux.getClient().publish(channel, data);
});
