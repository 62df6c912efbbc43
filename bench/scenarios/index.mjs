// The scenario registry, in the order a full run measures them. A scenario
// is a plain object: name, title, unit, kind ("rate" by default, "latency",
// "memory"), optional target { text, check }, requires (capabilities), a
// subject side and an optional baseline side (see sides.mjs).
import { fanout1, fanout10 } from "./fanout.mjs";
import { groupSqlite, groupSqliteDrain } from "./groups.mjs";
import { e2eLatency, e2eLatencyStream } from "./latency.mjs";
import { jetstreamGroup, jetstreamPublish } from "./jetstream.mjs";
import { tracing } from "./tracing.mjs";
import { validatedJson, validatedPublish } from "./validation.mjs";
import { stream100Memory, stream100Sqlite, stream100SqliteRetention, stream1Memory, stream1Sqlite, unaryPublish } from "./publish.mjs";
import { stalledSubscriber } from "./stalled.mjs";
import { largeRequestFlood } from "./flood.mjs";
import { indexKeysFlood } from "./index-keys.mjs";
import { stream100MemorySecure } from "./security.mjs";
import { consoleSlowBrowser } from "./console.mjs";
import { outboxPostgres, sdkBatchingLatency, sdkPublishConcurrent, sdkPublishVsUnary } from "./producers.mjs";

export const SCENARIOS = [
  unaryPublish,
  stream1Memory,
  stream1Sqlite,
  stream100Memory,
  stream100Sqlite,
  stream100SqliteRetention,
  stream100MemorySecure,
  sdkPublishConcurrent,
  sdkPublishVsUnary,
  validatedPublish,
  validatedJson,
  fanout1,
  fanout10,
  groupSqlite,
  groupSqliteDrain,
  jetstreamPublish,
  jetstreamGroup,
  e2eLatency,
  e2eLatencyStream,
  sdkBatchingLatency,
  outboxPostgres,
  tracing,
  stalledSubscriber,
  indexKeysFlood,
  largeRequestFlood,
  consoleSlowBrowser,
];
