/**
 * Reads the `(protobus.v1.event)` message option from descriptors: which
 * messages are events, of which type, with which envelope defaults. Shared
 * by the code generator and `protobus schema sync`, so both see the same
 * events.
 */
import { createFileRegistry, fromBinary, getOption, hasOption, type DescExtension, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { isValidEventType } from "../pattern.js";
import type { EventDefaults } from "./event-definition.js";

/** Full name of the message option that marks an event. */
export const EVENT_OPTION_NAME = "protobus.v1.event";

/** A message annotated with `(protobus.v1.event)`. */
export interface AnnotatedEvent {
  /** The event type. */
  readonly type: string;
  /** The payload message. */
  readonly message: DescMessage;
  /** Envelope defaults from the option. */
  readonly defaults: EventDefaults;
  /** The option's description (may be empty). */
  readonly description: string;
}

/** The `(protobus.v1.event)` extension among `files`, if any file declares it. */
export function findEventOption(files: Iterable<DescFile>): DescExtension | undefined {
  for (const file of files) {
    for (const extension of file.extensions) if (extension.typeName === EVENT_OPTION_NAME) return extension;
  }
  return undefined;
}

function messagesOf(file: DescFile): DescMessage[] {
  const out: DescMessage[] = [];
  const visit = (message: DescMessage): void => {
    out.push(message);
    message.nestedMessages.forEach(visit);
  };
  file.messages.forEach(visit);
  return out;
}

interface RawEventOptions {
  type: string;
  priority?: number;
  ttl?: { seconds: bigint; nanos: number };
  description: string;
}

/**
 * Every annotated message of `files` (nested ones included), in file order.
 * Throws an Error naming every message whose option is invalid (bad type
 * syntax, priority over 9) and every event type claimed twice.
 */
export function annotatedEvents(files: Iterable<DescFile>, option: DescExtension): AnnotatedEvent[] {
  const events: AnnotatedEvent[] = [];
  const problems: string[] = [];
  const owners = new Map<string, string>();
  for (const file of files) {
    for (const message of messagesOf(file)) {
      if (!hasOption(message, option)) continue;
      const raw = getOption(message, option) as unknown as RawEventOptions;
      const where = `${file.name}.proto: ${message.typeName}`;
      if (!isValidEventType(raw.type)) {
        problems.push(`${where}: (protobus.v1.event).type '${raw.type}' must be lower-case dotted tokens, e.g. agent.task.created`);
        continue;
      }
      if (raw.priority !== undefined && raw.priority > 9) problems.push(`${where}: (protobus.v1.event).priority ${raw.priority} must be 0..9`);
      const owner = owners.get(raw.type);
      if (owner !== undefined) problems.push(`${where}: event type '${raw.type}' is already the type of ${owner}`);
      owners.set(raw.type, message.typeName);
      const ttlMs = raw.ttl === undefined ? undefined : Number(raw.ttl.seconds) * 1000 + Math.round(raw.ttl.nanos / 1e6);
      events.push({
        type: raw.type,
        message,
        defaults: { ...(raw.priority !== undefined ? { priority: raw.priority } : {}), ...(ttlMs !== undefined && ttlMs > 0 ? { ttlMs } : {}) },
        description: raw.description,
      });
    }
  }
  if (problems.length > 0) throw new Error(`invalid (protobus.v1.event) options:\n  ${problems.join("\n  ")}`);
  return events;
}

/**
 * Every annotated message of a serialized `google.protobuf.FileDescriptorSet`
 * (as `buf build -o -` writes it, imports included).
 */
export function eventsInDescriptorSet(set: Uint8Array): AnnotatedEvent[] {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, set));
  const files = [...registry.files];
  const option = findEventOption(files);
  return option === undefined ? [] : annotatedEvents(files, option);
}
