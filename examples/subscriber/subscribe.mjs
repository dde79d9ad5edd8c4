#!/usr/bin/env node
// A service that is not ours reading the booking service's events from NATS JetStream: a
// durable consumer on the TICKET_EVENTS stream, each message decoded with the published
// protos (protos/tickets/v1/events.proto) by its Event-Type header, printed as one JSON line,
// then acknowledged. Run from the repository's root after `npm ci`:
//
//   node examples/subscriber/subscribe.mjs --servers nats://127.0.0.1:4222 --durable refunds \
//     [--subject tickets.v1.TicketBookingCanceled] [--stream TICKET_EVENTS] [--until-idle 3000]
//
// The durable consumer remembers what it acknowledged: run it again and it goes on from there.
// --until-idle MS exits once no message came for that long (for scripts and tests).
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AckPolicy, DeliverPolicy, connect } from "nats";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({
  options: {
    servers: { type: "string", default: "nats://127.0.0.1:4222" },
    stream: { type: "string", default: "TICKET_EVENTS" },
    durable: { type: "string", default: "example-subscriber" },
    subject: { type: "string", default: "tickets.v1.>" },
    "until-idle": { type: "string" },
    protos: { type: "string", default: path.join(here, "..", "..", "protos") },
  },
});

// events.proto imports booking.proto, which imports google/api/annotations.proto (and that
// google/protobuf/descriptor.proto): the protos folder, then where the build takes them from
// (Debian's googleapis and libprotobuf-dev).
const includeDirs = [
  args.protos,
  "/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis",
  "/usr/include",
];
const root = new protobuf.Root();
root.resolvePath = (origin, target) => {
  if (path.isAbsolute(target)) return target;
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return target;
};
await root.load("tickets/v1/events.proto", { keepCase: true });

const nc = await connect({ servers: args.servers.split(","), name: args.durable });
const jsm = await nc.jetstreamManager();
try {
  await jsm.streams.info(args.stream);
} catch (error) {
  console.error(`stream ${args.stream}: ${error.message} (the relay creates it: start ` +
    "booking-server with --jetstream_url)");
  process.exit(1);
}
// Adding a durable consumer that exists with the same settings changes nothing.
await jsm.consumers.add(args.stream, {
  durable_name: args.durable,
  ack_policy: AckPolicy.Explicit,
  deliver_policy: DeliverPolicy.All,
  filter_subject: args.subject,
});
const consumer = await nc.jetstream().consumers.get(args.stream, args.durable);

const idle = args["until-idle"] === undefined ? 0 : Number(args["until-idle"]);
for (;;) {
  const batch = await consumer.fetch({ max_messages: 256, expires: idle > 0 ? idle : 5000 });
  let received = 0;
  for await (const m of batch) {
    received++;
    const type = m.headers?.get("Event-Type") ?? m.subject;
    const decoded = root.lookupType(type).decode(m.data);
    console.log(
      JSON.stringify({
        stream_sequence: m.seq,
        subject: m.subject,
        msg_id: m.headers?.get("Nats-Msg-Id"),
        event_sequence: Number(m.headers?.get("Event-Sequence")),
        ticket_id: m.headers?.get("Ticket-Id"),
        correlation_id: m.headers?.get("Correlation-ID"),
        event: root.lookupType(type).toObject(decoded, { longs: String, defaults: true }),
      }),
    );
    m.ack();
  }
  if (received === 0 && idle > 0) break;
}
await nc.drain();
