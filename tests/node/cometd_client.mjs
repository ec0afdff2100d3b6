// The official CometD JavaScript client (npm `cometd` + `cometd-nodejs-client`), in its DEFAULT
// configuration (websocket offered first, the message type appended to the URL, ...), against the
// sandbox's Statistics notifications endpoint.
//
//   node cometd_client.mjs <notifications URL> <x-api-key> <bearer token>
//
// Prints one JSON object per line on stdout for every event (handshake, subscribe, update, service,
// connect failure); on the line "disconnect" on stdin it disconnects, prints {"event":"disconnected"}
// and exits. Driven by tests/sandbox/test_node_clients.py.
import { adapt } from "cometd-nodejs-client";
import { CometD } from "cometd";
import { createInterface } from "node:readline";

adapt();

const [url, apiKey, token] = process.argv.slice(2);
const emit = (event, fields = {}) => process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");

const cometd = new CometD();
cometd.configure({
  url,
  requestHeaders: { "x-api-key": apiKey, Authorization: `Bearer ${token}` },
  logLevel: "warn",
});

// The CometD way to (re)subscribe: in the handshake listener, so a re-handshake (after
// `402::unknown client`) subscribes again.
cometd.addListener("/meta/handshake", (reply) => {
  emit("handshake", {
    successful: reply.successful,
    transport: cometd.getTransport() ? cometd.getTransport().type : null,
    error: reply.error ?? null,
  });
  if (!reply.successful) {
    return;
  }
  cometd.batch(() => {
    for (const channel of ["/statistics/v3/updates", "/statistics/v3/service"]) {
      cometd.subscribe(
        channel,
        (message) => emit(channel.endsWith("updates") ? "update" : "service", { data: message.data }),
        (ack) => emit("subscribed", { channel, successful: ack.successful, error: ack.error ?? null }),
      );
    }
  });
});
cometd.addListener("/meta/connect", (reply) => {
  if (!reply.successful) {
    emit("connect-failed", { error: reply.error ?? (reply.failure ? String(reply.failure.reason) : null) });
  }
});

cometd.handshake();

createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "disconnect") {
    cometd.disconnect((reply) => {
      emit("disconnected", { successful: reply.successful });
      process.exit(0);
    });
  }
});
