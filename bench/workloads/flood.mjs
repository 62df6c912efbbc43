// A flood of large publishes, as a hostile client sends them: `connections`
// connections of their own each send `perConnection` publishes of `events`
// events of 1 KB at once, and do not send a refused one again. What it
// measures is the server's memory (see scenarios/flood.mjs); it reports
// how many publishes were stored and how many refused.
import { status } from "@grpc/grpc-js";
import { Event, PublishRequest } from "@protobus/sdk/proto";
import { ownConnections, publishEncoded } from "../lib/encoded-publish.mjs";

export async function start({ address, connections, perConnection, events }) {
  const data = Buffer.alloc(1_000, 97);
  const request = PublishRequest.encode({
    events: Array.from({ length: events }, (_, i) => Event.fromPartial({ type: "bench.flood", source: "bench/flood", subject: `e-${i}`, data })),
  }).finish();
  const body = Buffer.from(request);
  const clients = ownConnections(address, connections);
  const outcome = { stored: 0, refused: 0, failed: 0 };
  const started = performance.now();
  await Promise.all(
    clients.flatMap((client) =>
      Array.from({ length: perConnection }, async () => {
        const error = await publishEncoded(client, body);
        if (error === undefined) outcome.stored += 1;
        else if (error.code === status.RESOURCE_EXHAUSTED) outcome.refused += 1;
        else outcome.failed += 1;
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  return {
    count: () => outcome.stored * events,
    summary: () => ({
      published: outcome.stored * events,
      publishSeconds: seconds,
      requestBytes: body.length,
      sentBytes: body.length * connections * perConnection,
      ...outcome,
    }),
    async stop() {},
  };
}
