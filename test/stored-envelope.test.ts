/**
 * Events are stored as their publisher encoded them, followed by the
 * server-set fields (server/src/wire.ts `writeServerFields`). Every stored
 * byte must still read as the accepted envelope in a stock Protobuf
 * runtime: this test publishes with a plain client built from the .proto
 * files, reads the stored bodies back from the SQLite file and from a plain
 * subscriber on the memory store, decodes them with protobufjs and compares
 * field by field, including an event whose publisher set the fields the
 * server overrides.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import * as protobuf from "protobufjs";
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { createFileRegistry, fromBinary, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { EVENT_WIRE_TYPES, ServerSetField } from "../server/src/wire.js";
import { REPO_ROOT, startTestServer } from "./support/test-server.js";
import { plainEventBus, plainUnary } from "./support/plain-client.js";

const require = createRequire(import.meta.url);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@protobus/sdk/descriptor"))));

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith("google/protobuf/") ? target : join(REPO_ROOT, "proto", target));
root.loadSync("protobus/v1/event.proto", { keepCase: true });
const EventType = root.lookupType("protobus.v1.Event");

type Plain = Record<string, unknown>;

const decodeEvent = (bytes: Uint8Array): Plain =>
  EventType.toObject(EventType.decode(bytes), { longs: String, defaults: true, bytes: Buffer }) as Plain;

const seconds = (ms: number): string => String(Math.floor(ms / 1000));

/** What the publisher sends: a minimal event, a full one, and one that sets every field the server sets. */
function published(): Plain[] {
  return [
    { source: "plain", type: "stored.minimal.created", data: Buffer.from([1, 2, 3]) },
    {
      id: "full-1",
      source: "plain",
      type: "stored.full.created",
      spec_version: "1.0",
      time: { seconds: 1_700_000_000, nanos: 5_000_000 },
      subject: "s",
      data_content_type: "application/octet-stream",
      data_schema: "schema:1",
      data: Buffer.from("payload"),
      correlation_id: "c-1",
      causation_id: "cause",
      priority: 0,
      tags: ["a", "b"],
      expire_time: { seconds: 4_000_000_000, nanos: 0 },
      ordering_key: "k",
      attributes: { x: "1", y: "2" },
    },
    {
      source: "plain",
      type: "stored.override.created",
      data: Buffer.from("o"),
      sequence: "99999999999",
      publish_time: { seconds: 12, nanos: 345_678_901 },
      schema_version: 7,
    },
  ];
}

/** The stored envelope a stock runtime must read for `sent`, given its result. */
function expectStored(actual: Plain, sent: Plain, result: { id: string; sequence: string }, before: number, after: number): void {
  expect(actual.id).toBe(result.id);
  expect(actual.sequence).toBe(result.sequence);
  expect(actual.spec_version).toBe("1.0");
  expect(actual.priority).toBe(sent.priority ?? 4);
  expect(actual.schema_version).toBe(0);
  const publishTime = actual.publish_time as { seconds: string; nanos: number };
  expect(Number(publishTime.seconds)).toBeGreaterThanOrEqual(Number(seconds(before)));
  expect(Number(publishTime.seconds)).toBeLessThanOrEqual(Number(seconds(after)));
  expect(publishTime.nanos % 1_000_000).toBe(0);
  for (const field of ["source", "type", "subject", "data_content_type", "data_schema", "correlation_id", "causation_id", "ordering_key"]) {
    expect(actual[field], field).toBe(sent[field] ?? "");
  }
  expect(Buffer.from(actual.data as Uint8Array).equals(sent.data as Buffer)).toBe(true);
  expect(actual.tags).toEqual(sent.tags ?? []);
  expect(actual.attributes).toEqual(sent.attributes ?? {});
  for (const field of ["time", "expire_time"]) {
    const time = sent[field] as { seconds: number; nanos: number } | undefined;
    if (time === undefined) expect(actual[field], field).toBeFalsy();
    else expect(actual[field], field).toEqual({ seconds: String(time.seconds), nanos: time.nanos });
  }
}

describe("stored envelopes", () => {
  it("names every field of protobus.v1.Event with its wire type, and the server-set fields by number", () => {
    const message = registry.getMessage("protobus.v1.Event");
    expect(message).toBeDefined();
    const fields = message?.fields ?? [];
    expect(EVENT_WIRE_TYPES.filter((type) => type !== undefined)).toHaveLength(fields.length);
    for (const field of fields) {
      const varint = field.fieldKind === "scalar" && (field.scalar === ScalarType.UINT32 || field.scalar === ScalarType.UINT64);
      expect(EVENT_WIRE_TYPES[field.number], field.name).toBe(varint ? 0 : 2);
    }
    const byName = new Map(fields.map((field) => [field.localName, field.number]));
    for (const [name, number] of Object.entries(ServerSetField)) expect(byName.get(name), name).toBe(number);
  });

  it("are the publisher's bytes plus the server's fields on SQLite, read alike by protobufjs", async () => {
    const t = await startTestServer();
    const client = plainEventBus(t.address);
    const sent = published();
    const before = Date.now();
    let results: Array<{ id: string; sequence: string }>;
    try {
      ({ results } = await plainUnary<{ results: Array<{ id: string; sequence: string }> }>(client, "Publish", { events: sent }));
    } finally {
      client.close();
      await t.server.shutdown();
    }
    const after = Date.now();
    const db = new Database(join(t.dataDir, "events.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT seq, body FROM events ORDER BY seq").all() as Array<{ seq: number; body: Buffer }>;
      expect(rows).toHaveLength(sent.length);
      rows.forEach((row, i) => {
        const own = EventType.encode(EventType.fromObject(sent[i] as Plain)).finish();
        // Stored as sent: the publisher's encoding is the start of the body.
        expect(row.body.subarray(0, own.length).equals(Buffer.from(own)), `event ${i} stored as sent`).toBe(true);
        expectStored(decodeEvent(row.body), sent[i] as Plain, results[i] as { id: string; sequence: string }, before, after);
      });
    } finally {
      db.close();
      await t.close();
    }
  });

  it("reach a plain subscriber as the accepted envelope on the memory store", async () => {
    const t = await startTestServer({ store: "memory" });
    const client = plainEventBus(t.address);
    try {
      const sent = published();
      const before = Date.now();
      const { results } = await plainUnary<{ results: Array<{ id: string; sequence: string }> }>(client, "Publish", { events: sent });
      const after = Date.now();
      const stream = (client.Subscribe as () => ClientDuplexStream<unknown, Plain>)();
      const received: Plain[] = [];
      const done = new Promise<void>((resolve) => {
        stream.on("data", (response: Plain) => {
          if (response.response !== "delivery") return;
          received.push((response.delivery as { event: Plain }).event);
          if (received.length === sent.length) resolve();
        });
      });
      stream.on("error", () => undefined);
      stream.write({ open: { patterns: ["stored.>"], start: { earliest: {} } } });
      await done;
      stream.cancel();
      received.forEach((event, i) => {
        const normalized = decodeEvent(EventType.encode(EventType.fromObject(event)).finish());
        expectStored(normalized, sent[i] as Plain, results[i] as { id: string; sequence: string }, before, after);
      });
    } finally {
      client.close();
      await t.close();
    }
  });
});
