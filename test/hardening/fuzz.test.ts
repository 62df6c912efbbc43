/**
 * Fuzzing over the wire: random and mutated PublishRequest, QueryEvents,
 * Subscribe opens (patterns, filters, start positions), JSON Schemas and
 * descriptor sets, encoded and sometimes corrupted byte by byte, sent to a
 * real `protobus serve` process over a few connections with several calls
 * in flight. Whatever arrives, the server never crashes, never answers
 * INTERNAL, UNKNOWN or DATA_LOSS (nor logs an unexpected failure), and a
 * bystander's GetBusInfo is answered within the bound throughout (after the
 * first 500 cases, which warm up the server's code and are checked for their
 * answers only). When the bystander was held up, every slowly answered case
 * is sent again alone: one that holds the server's event loop past the bound
 * on its own, twice, fails the run by name; a hold-up no case reproduces
 * (a garbage collection, a machine busy with other work) is reported.
 *
 * The cases are drawn by fast-check from a fixed seed, so a failure repeats;
 * the failing case is printed. PROTOBUS_FUZZ_RUNS (default 10,000) and
 * PROTOBUS_FUZZ_SEED change the run: `PROTOBUS_FUZZ_RUNS=200000 npx vitest
 * run test/hardening/fuzz.test.ts` is the long run.
 */
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient } from "@protobus/sdk";
import {
  CheckCompatibilityRequest,
  Event,
  ListDeadLettersRequest,
  PublishRequest,
  QueryEventsRequest,
  RegisterSchemaRequest,
  SubscribeRequest,
} from "@protobus/sdk/proto";
import { fixtureDescriptorSet, TASK_CREATED } from "../registry/support.js";
import { eventLoopLagMaxMs, expectNoStall, STALL_BOUND_MS, startHardeningServer, type HardeningServer } from "./support.js";

const RUNS = Number(process.env.PROTOBUS_FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.PROTOBUS_FUZZ_SEED ?? 20_261_205);
const CONNECTIONS = 3;
const WARM_UP = 500;
const IN_FLIGHT_PER_CONNECTION = 2;
// A long run takes as long as it needs; the default one a fraction of a minute.
const TIMEOUT_MS = Math.max(120_000, RUNS * 10);

/** Statuses that mean the server failed rather than the request. */
const SERVER_FAILURES = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

// Regular expressions: catastrophic for a backtracking engine, invalid for RE2, over the size limit, ordinary.
const REGEXES = ["^(a+)+$", "(a|aa)*b", "(?=a)", "(?<!a)b", "(a)\\1", "\\k<n>", "[", "a{1001}", "a{2,1}", "\\p{L}+", "^[a-z]{1,10}$", "(?<n>x)", "(?i)abc", "x".repeat(1200), "[a-z]{999}", "\\u00e9", "\\", ""];
const TOKENS = ["a", "b", "agent", "task", "created", "fuzz", "json", "proto", "checked", "protobus", "alert", "*", ">", "A", "", "é", "x".repeat(300)];
const REGISTERED = ["fuzz.json.checked", "fuzz.proto.checked", "fuzz.unique.checked", "fuzz.tree.checked"];

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 3, arbitrary: fc.constant("") },
  { weight: 1, arbitrary: fc.constantFrom("", "\u0000", "é".repeat(10), "x".repeat(1100), "a".repeat(30) + "!") },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 8 }) },
);
const dotted = fc.array(fc.constantFrom(...TOKENS), { minLength: 1, maxLength: 5 }).map((t) => t.join("."));
const eventType = fc.oneof(
  { weight: 2, arbitrary: dotted },
  { weight: 4, arbitrary: fc.constantFrom(...REGISTERED, "protobus.alert.flow_slow", "fuzz.plain.event", "fuzz.plain.other") },
  { weight: 1, arbitrary: text },
);

/** A JSON value nested `depth` deep. */
const deepJson = fc.integer({ min: 1, max: 200 }).map((depth) => `${"[".repeat(depth)}1${"]".repeat(depth)}`);

const payload = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
  fc
    .record({ name: text, items: fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant({ a: 1 })), { maxLength: 50 }) })
    .map((v) => new TextEncoder().encode(JSON.stringify(v))),
  deepJson.map((v) => new TextEncoder().encode(v)),
  fc.integer({ min: 0, max: 3000 }).map((n) => new TextEncoder().encode(JSON.stringify(Array.from({ length: n }, (_, i) => i % 97)))),
);

const date = fc.date({ min: new Date(0), max: new Date(253_402_300_799_000), noInvalidDate: true });
const traceparent = fc.oneof(fc.constant("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), text);

/** Mostly `usual`, now and then anything `arbitrary` draws: most events pass, every field is tried. */
function often<T>(usual: T, arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 6, arbitrary: fc.constant(usual) }, { weight: 1, arbitrary });
}

const event = fc.record({
  id: often("", text),
  source: often("fuzz", text),
  type: eventType,
  specVersion: often("", fc.constantFrom("1.0", "0.3")),
  time: fc.option(date, { nil: undefined }),
  subject: often("", text),
  dataContentType: fc.constantFrom("", "application/json", "application/json", "application/protobuf", "text/plain", "application/x+json"),
  dataSchema: fc.constant(""),
  data: payload,
  correlationId: often("", text),
  causationId: fc.constant(""),
  priority: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
  tags: often<string[]>([], fc.array(text, { maxLength: 4 })),
  expireTime: fc.option(date, { nil: undefined }),
  orderingKey: often("", text),
  traceparent: often("", traceparent),
  tracestate: fc.constant(""),
  attributes: often<Record<string, string>>({}, fc.dictionary(text, text, { maxKeys: 4 })),
});

const sequence = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 2n ** 62n, max: 2n ** 64n - 1n }));

/** A JSON Schema built from keywords that matter: patterns, $refs, uniqueItems, combinators. */
const { schema } = fc.letrec<{ schema: unknown }>((tie) => ({
  schema: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.boolean(),
    fc.record(
      {
        type: fc.constantFrom("object", "array", "string", "integer", ["string", "null"]),
        pattern: fc.constantFrom(...REGEXES),
        properties: fc.dictionary(fc.constantFrom("a", "b", "name", "child"), tie("schema"), { maxKeys: 3 }),
        patternProperties: fc.dictionary(fc.constantFrom(...REGEXES), tie("schema"), { maxKeys: 2 }),
        items: tie("schema"),
        uniqueItems: fc.boolean(),
        allOf: fc.array(tie("schema"), { maxLength: 2 }),
        anyOf: fc.array(tie("schema"), { maxLength: 2 }),
        not: tie("schema"),
        $ref: fc.constantFrom("#", "#/definitions/a", "#/properties/a", "#/allOf/0", "other.json", "#/%zz"),
        definitions: fc.dictionary(fc.constantFrom("a", "b"), tie("schema"), { maxKeys: 2 }),
        format: fc.constantFrom("email", "regex", "date-time", "uri", "nonsense"),
        maximum: fc.double(),
        required: fc.array(fc.constantFrom("a", "name"), { maxLength: 2 }),
        $schema: fc.constantFrom("http://json-schema.org/draft-07/schema#", "https://json-schema.org/draft/2020-12/schema"),
      },
      { requiredKeys: [] },
    ),
  ),
}));

const schemaText = fc.oneof(
  { weight: 6, arbitrary: schema.map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5000 }).map((n) => `${"{\"not\":".repeat(n)}true${"}".repeat(n)}`) },
);

/** A filter: grammar-built (sometimes deeper than the limit), or random text. */
const { filter } = fc.letrec<{ filter: string }>((tie) => ({
  filter: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom('source == "fuzz"', "priority <= 3", '"t" in tags', "has(attributes.a)", 'subject.startsWith("a")', 'attributes["x-y"] in ["1", "2"]'),
    fc.constantFrom(...REGEXES).map((r) => `source.matches(${JSON.stringify(r)})`),
    fc.tuple(tie("filter"), fc.constantFrom("&&", "||"), tie("filter")).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie("filter").map((f) => `!(${f})`),
    fc.integer({ min: 1, max: 3000 }).map((n) => `${"(".repeat(n)}priority < 2${")".repeat(n)}`),
    fc.string({ maxLength: 30 }),
  ),
}));

type Case =
  | { kind: "unary"; path: string; body: Uint8Array }
  | { kind: "subscribe"; body: Uint8Array };

/** Corrupts bytes now and then: flips, truncation, garbage appended. */
function mutate(bytes: Uint8Array, mutation: number[]): Uint8Array {
  const [kind = 0, a = 0, b = 0] = mutation;
  if (bytes.length === 0 || kind < 12) return bytes;
  const out = Buffer.from(bytes);
  if (kind === 12) out[a % out.length] = b & 0xff;
  if (kind === 13) return out.subarray(0, a % out.length);
  if (kind === 14) return Buffer.concat([out, Buffer.from([b & 0xff, 0xff, 0xff, 0xff, 0x0f])]);
  return out;
}

// One case in five is corrupted.
const mutation = fc.tuple(fc.integer({ min: 0, max: 14 }), fc.nat(), fc.nat(255));

function caseOf(arbitrary: fc.Arbitrary<Uint8Array>, make: (body: Uint8Array) => Case): fc.Arbitrary<Case> {
  return fc.tuple(arbitrary, mutation).map(([body, m]) => make(mutate(body, m)));
}

const unary = (path: string) => (body: Uint8Array): Case => ({ kind: "unary", path, body });

function cases(descriptorSet: Uint8Array): fc.Arbitrary<Case> {
  const publish = fc.oneof({ weight: 12, arbitrary: fc.array(event, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: fc.constant([]) }).map((events) => PublishRequest.encode({ events: events.map((e) => Event.fromPartial({ ...e, data: Buffer.from(e.data) })) }).finish());
  const query = fc
    .record({ patterns: fc.array(fc.oneof(dotted, text), { maxLength: 4 }), fromSequence: sequence, pageToken: fc.oneof(fc.constant(""), text), limit: fc.nat(2000), source: text })
    .map((q) => QueryEventsRequest.encode(QueryEventsRequest.fromPartial(q)).finish());
  const deadLetters = fc
    .record({ group: text, fromSequence: sequence, pageToken: text, patterns: fc.array(dotted, { maxLength: 3 }) })
    .map((q) => ListDeadLettersRequest.encode(ListDeadLettersRequest.fromPartial(q)).finish());
  const jsonSchema = fc
    .record({ subject: fc.oneof(fc.constantFrom(...REGISTERED, "_base", "fuzz.*.checked", "fuzz.>"), text), text: schemaText })
    .map((r) => ({ subject: r.subject, definition: { $case: "jsonSchema" as const, jsonSchema: r.text } }));
  const protobuf = fc
    .record({ subject: fc.constantFrom("fuzz.proto.checked", "fuzz.proto.other"), bytes: fc.oneof(fc.constant(descriptorSet), fc.uint8Array({ maxLength: 200 })), m: mutation, name: fc.oneof(fc.constant(TASK_CREATED), text) })
    .map((r) => ({ subject: r.subject, definition: { $case: "protobuf" as const, protobuf: { fileDescriptorSet: Buffer.from(mutate(r.bytes, r.m)), messageName: r.name } } }));
  const schemaMessage = fc.oneof(jsonSchema, protobuf);
  const register = schemaMessage.map((s) => RegisterSchemaRequest.encode(RegisterSchemaRequest.fromPartial({ schema: s })).finish());
  const check = schemaMessage.map((s) => CheckCompatibilityRequest.encode(CheckCompatibilityRequest.fromPartial({ schema: s })).finish());
  const open = fc
    .record({
      // Now and then one pattern over the limit (90 KB of them; patterns.test.ts measures that case alone).
      patterns: fc.oneof(
        { weight: 40, arbitrary: fc.array(fc.oneof(dotted, text), { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constant(Array.from({ length: 10_001 }, (_, i) => `p${i}.*`)) },
      ),
      filter: fc.oneof(fc.constant(""), filter),
      group: fc.oneof(fc.constant(""), fc.constant(""), fc.constantFrom("fuzz-group-a", "fuzz-group-b"), text),
      start: fc.oneof(
        fc.constant(undefined),
        sequence.map((s) => ({ position: { $case: "sequence" as const, sequence: s } })),
        date.map((t) => ({ position: { $case: "time" as const, time: t } })),
      ),
      maxInFlight: fc.oneof(fc.constant(0), fc.nat(20_000)),
    })
    .map((o) => SubscribeRequest.encode(SubscribeRequest.fromPartial({ request: { $case: "open", open: o } })).finish());
  return fc.oneof(
    { weight: 8, arbitrary: caseOf(publish, unary("/protobus.v1.EventBus/Publish")) },
    { weight: 2, arbitrary: caseOf(query, unary("/protobus.v1.EventBus/QueryEvents")) },
    { weight: 1, arbitrary: caseOf(deadLetters, unary("/protobus.v1.EventBus/ListDeadLetters")) },
    { weight: 2, arbitrary: caseOf(register, unary("/protobus.v1.SchemaRegistry/RegisterSchema")) },
    { weight: 2, arbitrary: caseOf(check, unary("/protobus.v1.SchemaRegistry/CheckCompatibility")) },
    { weight: 3, arbitrary: caseOf(open, (body) => ({ kind: "subscribe", body })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map(unary("/protobus.v1.EventBus/GetEvent")) },
  );
}

const identity = (b: Buffer): Buffer => b;

/** Sends one case; resolves to its status code (OK for an opened subscription). */
function send(client: grpc.Client, c: Case): Promise<number> {
  const deadline = Date.now() + 30_000;
  if (c.kind === "unary") {
    return new Promise((resolve) => {
      client.makeUnaryRequest(c.path, identity, identity, Buffer.from(c.body), new grpc.Metadata(), { deadline }, (error) =>
        resolve(error === null ? grpc.status.OK : error.code),
      );
    });
  }
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest("/protobus.v1.EventBus/Subscribe", identity, identity, new grpc.Metadata(), { deadline });
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      resolve(code);
      call.cancel();
    };
    // The first response of an accepted open is `opened`: the case is over.
    call.on("data", () => finish(grpc.status.OK));
    call.on("error", (error: grpc.ServiceError) => finish(error.code));
    call.on("end", () => finish(grpc.status.OK));
    call.write(Buffer.from(c.body));
  });
}

describe("fuzzing over the wire", () => {
  let server: HardeningServer;
  let descriptorSet: Uint8Array;
  beforeAll(async () => {
    server = await startHardeningServer(["--flow-outcomes", "0"]);
    descriptorSet = fixtureDescriptorSet();
    const registry = createRegistryClient({ address: server.address });
    await registry.register("fuzz.json.checked", {
      jsonSchema: { type: "object", properties: { name: { type: "string", pattern: "^(a+)+$" }, items: { type: "array", uniqueItems: true } } },
    });
    await registry.register("fuzz.unique.checked", { jsonSchema: { type: "array", uniqueItems: true } });
    await registry.register("fuzz.tree.checked", {
      jsonSchema: { type: "object", properties: { children: { type: "array", items: { $ref: "#" } } } },
    });
    await registry.register("fuzz.proto.checked", { protobuf: { fileDescriptorSet: descriptorSet, messageName: TASK_CREATED } });
    await registry.setCompatibility("", "NONE");
    registry.close();
  });
  afterAll(async () => {
    await server?.close();
  });

  it(
    `${RUNS} random and mutated requests (seed ${SEED}): no crash, no INTERNAL, no stall`,
    async () => {
      const all = fc.sample(cases(descriptorSet), { numRuns: RUNS, seed: SEED });
      const clients = Array.from({ length: CONNECTIONS }, () => new grpc.Client(server.address, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": -1 }));
      const counts = new Map<number, number>();
      const failures: { code: number; index: number; c: Case }[] = [];
      // Cases answered slowly, to tell what held the server up when the bystander waited.
      const slow: { took: number; index: number; what: string }[] = [];
      let next = 0;
      let until = 0;
      const worker = async (client: grpc.Client): Promise<void> => {
        while (next < until && failures.length < 5) {
          const index = next++;
          const c = all[index] as Case;
          const started = performance.now();
          const code = await send(client, c);
          const took = performance.now() - started;
          if (took > 80) slow.push({ took, index, what: `${c.kind === "unary" ? c.path : "Subscribe"} ${grpc.status[code]} ${c.body.length} bytes` });
          counts.set(code, (counts.get(code) ?? 0) + 1);
          if (SERVER_FAILURES.has(code)) failures.push({ code, index, c });
        }
      };
      const workers = () => Promise.all(clients.flatMap((client) => Array.from({ length: IN_FLIGHT_PER_CONNECTION }, () => worker(client))));
      try {
        // The first cases run every code path of the server once (compiling it) before the bystander measures.
        until = Math.min(WARM_UP, all.length);
        await workers();
        until = all.length;
        await expectNoStall(server, workers);
      } catch (error) {
        // The server was held up. Whether a case did it, or the machine (a garbage collection,
        // other work on the cores): each case that was answered slowly is sent again, alone, and
        // the server's own event-loop delay measured around it; a case that holds it up past the
        // bound again is the finding, and fails the run by name.
        slow.sort((a, b) => b.took - a.took);
        console.error(`slowest cases: ${slow.slice(0, 8).map((x) => `#${x.index} ${x.what} ${x.took.toFixed(0)} ms`).join("; ")}`);
        const culprits: string[] = [];
        for (const { index, what } of slow.slice(0, 40)) {
          let lags = 0;
          for (let attempt = 0; attempt < 2; attempt++) {
            await eventLoopLagMaxMs(server.metricsPort);
            await send(clients[0] as grpc.Client, all[index] as Case);
            await new Promise((r) => setTimeout(r, 30));
            if ((await eventLoopLagMaxMs(server.metricsPort)) >= STALL_BOUND_MS) lags += 1;
          }
          if (lags === 2) culprits.push(`#${index} ${what}: ${Buffer.from((all[index] as Case).body).toString("base64").slice(0, 400)}`);
        }
        if (culprits.length > 0) throw new Error(`cases that hold the server up past ${STALL_BOUND_MS} ms on their own: ${culprits.join("; ")}`, { cause: error });
        console.warn(`NOTICE: the server was held up during the run, but none of the ${Math.min(slow.length, 40)} slow cases does it on its own: ${(error as Error).message.slice(0, 300)}`);
      } finally {
        for (const client of clients) client.close();
      }
      const summary = [...counts.entries()].map(([code, n]) => `${grpc.status[code]}: ${n}`).join(", ");
      console.log(`fuzz: ${RUNS} cases, seed ${SEED}: ${summary}`);
      expect(
        failures.map((f) => `case ${f.index}: ${grpc.status[f.code]} for ${f.c.kind === "unary" ? f.c.path : "Subscribe"} ${Buffer.from(f.c.body).toString("base64").slice(0, 400)}`),
        summary,
      ).toEqual([]);
      expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(RUNS);
      expect(server.process.exitCode, server.output()).toBeNull();
      expect(server.output()).not.toMatch(/failed unexpectedly|heap out of memory|Maximum call stack/);
      // Still serving, and every kind of answer came up: accepted and refused.
      expect(counts.get(grpc.status.OK) ?? 0).toBeGreaterThan(RUNS / 40);
      expect(counts.get(grpc.status.INVALID_ARGUMENT) ?? 0).toBeGreaterThan(RUNS / 20);
    },
    TIMEOUT_MS,
  );
});
