/** The jetstream backend as the registry offers it: its settings, their defaults and keys. */
import { defineConfigKeys } from "../../config-key.js";
import { integer, parseDurationMs, text } from "../../config-parsers.js";
import type { BackendDescriptor, SharedBackendSettings } from "../backend-descriptor.js";
import { pickGroupMemory } from "../groups/engine-group-store.js";

/** The settings of the jetstream backend; an empty string is a setting not given. */
export interface JetStreamSettings {
  /** NATS server URLs of the jetstream store, comma-separated. */
  readonly natsUrl: string;
  /** NATS user name (with `natsPassword`); empty for none. */
  readonly natsUser: string;
  /** NATS password; empty for none. */
  readonly natsPassword: string;
  /** NATS authentication token; empty for none. */
  readonly natsToken: string;
  /** Path of a NATS `.creds` file; empty for none. */
  readonly natsCreds: string;
  /** CA file that turns TLS on for NATS; empty for none. */
  readonly natsTlsCa: string;
  /** Client certificate for NATS TLS; empty for none. */
  readonly natsTlsCert: string;
  /** Key of `natsTlsCert`; empty for none. */
  readonly natsTlsKey: string;
  /** JetStream stream holding the events. */
  readonly jetstreamStream: string;
  /** First token of every subject protobus uses on NATS. */
  readonly jetstreamSubjectPrefix: string;
  /** Replicas of the stream and buckets the jetstream store creates. */
  readonly jetstreamReplicas: number;
  /** The jetstream store drops events older than this many ms; 0 keeps them forever. */
  readonly jetstreamMaxAgeMs: number;
}

function natsUrls(raw: string, from: string): string {
  const urls = raw.split(",").map((url) => url.trim());
  for (const url of urls) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s,]+$|^[^\s:/,]+:\d+$/.test(url)) {
      throw new RangeError(`${from}: expected NATS URLs like nats://host:4222[,nats://host2:4222], got '${raw}'`);
    }
  }
  return urls.join(",");
}

function streamName(raw: string, from: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new RangeError(`${from}: expected a stream name of letters, digits, _ and -, got '${raw}'`);
  return raw;
}

function subjectToken(raw: string, from: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(raw)) throw new RangeError(`${from}: expected one subject token of letters, digits, _ and -, got '${raw}'`);
  return raw;
}

const CONFIG_KEYS = defineConfigKeys<JetStreamSettings>([
  {
    key: "natsUrl",
    yaml: "nats-url",
    parse: natsUrls,
    description: "NATS server URLs of the jetstream store, comma-separated (nats://host:4222,nats://host2:4222)",
  },
  { key: "natsUser", yaml: "nats-user", parse: text, description: "NATS user name" },
  { key: "natsPassword", yaml: "nats-password", parse: text, description: "NATS password" },
  { key: "natsToken", yaml: "nats-token", parse: text, description: "NATS authentication token" },
  { key: "natsCreds", yaml: "nats-creds", parse: text, description: "path of a NATS .creds file" },
  { key: "natsTlsCa", yaml: "nats-tls-ca", parse: text, description: "CA file for NATS TLS (turns TLS on)" },
  { key: "natsTlsCert", yaml: "nats-tls-cert", parse: text, description: "client certificate for NATS TLS" },
  { key: "natsTlsKey", yaml: "nats-tls-key", parse: text, description: "key of the NATS client certificate" },
  {
    key: "jetstreamStream",
    yaml: "jetstream-stream",
    parse: streamName,
    description: "JetStream stream of the events (created when missing)",
  },
  {
    key: "jetstreamSubjectPrefix",
    yaml: "jetstream-subject-prefix",
    parse: subjectToken,
    description: "first token of every NATS subject protobus uses",
  },
  {
    key: "jetstreamReplicas",
    yaml: "jetstream-replicas",
    parse: integer(1, 5),
    description: "replicas of the stream and buckets the jetstream store creates (1, or 3 on a cluster)",
  },
  {
    key: "jetstreamMaxAgeMs",
    yaml: "jetstream-max-age",
    parse: parseDurationMs,
    description: "the jetstream store drops events older than this (0 keeps them forever)",
  },
]);

/** Creates the backend; settings left empty are not passed on. */
async function create(settings: JetStreamSettings & SharedBackendSettings) {
  const set = (value: string): boolean => value !== "";
  // The store's code (and the NATS client) is loaded when a store is created, not with the configuration.
  const { createJetStreamBackend } = await import("./index.js");
  return createJetStreamBackend({
    servers: settings.natsUrl.split(","),
    ...pickGroupMemory(settings),
    ...(set(settings.natsUser) ? { user: settings.natsUser, password: settings.natsPassword } : {}),
    ...(set(settings.natsToken) ? { token: settings.natsToken } : {}),
    ...(set(settings.natsCreds) ? { credsFile: settings.natsCreds } : {}),
    ...(set(settings.natsTlsCa) ? { tlsCaFile: settings.natsTlsCa } : {}),
    ...(set(settings.natsTlsCert) ? { tlsCertFile: settings.natsTlsCert } : {}),
    ...(set(settings.natsTlsKey) ? { tlsKeyFile: settings.natsTlsKey } : {}),
    ...(set(settings.jetstreamStream) ? { stream: settings.jetstreamStream } : {}),
    ...(set(settings.jetstreamSubjectPrefix) ? { subjectPrefix: settings.jetstreamSubjectPrefix } : {}),
    replicas: settings.jetstreamReplicas,
    ...(settings.jetstreamMaxAgeMs > 0 ? { maxAgeMs: settings.jetstreamMaxAgeMs } : {}),
    ...(settings.dedupeWindowMs !== undefined && settings.dedupeWindowMs > 0 ? { duplicateWindowMs: settings.dedupeWindowMs } : {}),
    ...(settings.logger !== undefined ? { logger: settings.logger } : {}),
  });
}

/** `--store jetstream`: a NATS JetStream cluster holds the events. */
export const jetstreamDescriptor: BackendDescriptor<"jetstream", JetStreamSettings> = {
  name: "jetstream",
  configKeys: CONFIG_KEYS,
  defaults: {
    natsUrl: "nats://127.0.0.1:4222",
    natsUser: "",
    natsPassword: "",
    natsToken: "",
    natsCreds: "",
    natsTlsCa: "",
    natsTlsCert: "",
    natsTlsKey: "",
    jetstreamStream: "PROTOBUS",
    jetstreamSubjectPrefix: "protobus",
    jetstreamReplicas: 1,
    jetstreamMaxAgeMs: 0,
  },
  create,
};
