/**
 * Decodes Protobuf payloads for printing, through the schema registry: an
 * event that was validated against a Protobuf schema (its `schema_version`
 * is set) is decoded with that version of the schema of its type, else of
 * the most specific pattern matching it (the subject the server checked it
 * against), and shown as canonical proto JSON.
 */
import { createFileRegistry, fromBinary, toJson, type DescMessage, type FileRegistry, type JsonValue } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { matchesPattern, type RegisteredSchema, type RegistryClient } from "@protobus/sdk";
import type { Event } from "@protobus/sdk/proto";
import { bySpecificity } from "../registry/payload-validator.js";

/** A decoded payload and the message it was decoded as. */
export interface DecodedPayload {
  readonly json: JsonValue;
  readonly messageName: string;
}

interface Decoder {
  readonly message: DescMessage;
  readonly registry: FileRegistry;
}

/** True for a payload sent as Protobuf binary (or as bytes without a media type). */
function isBinary(event: Event): boolean {
  const media = event.dataContentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "" || media === "application/protobuf" || media === "application/x-protobuf" || media === "application/octet-stream";
}

/** Decodes payloads with the registered Protobuf schemas; every lookup is cached. */
export class PayloadDecoder {
  readonly #connect: () => RegistryClient;
  #client: RegistryClient | undefined;
  #subjects: Promise<string[]> | undefined;
  readonly #decoders = new Map<string, Promise<Decoder | undefined>>();

  /** `connect` opens the registry client on first need. */
  constructor(connect: () => RegistryClient) {
    this.#connect = connect;
  }

  /**
   * The payload as canonical proto JSON, or undefined when the event was
   * not checked against a Protobuf schema or does not decode with it.
   */
  async decode(event: Event): Promise<DecodedPayload | undefined> {
    if (event.schemaVersion === 0 || event.data.length === 0 || !isBinary(event)) return undefined;
    try {
      const subject = await this.#subjectOf(event.type);
      if (subject === undefined) return undefined;
      const key = `${subject}@${event.schemaVersion}`;
      let decoder = this.#decoders.get(key);
      if (decoder === undefined) {
        decoder = this.#load(subject, event.schemaVersion);
        this.#decoders.set(key, decoder);
      }
      const found = await decoder;
      if (found === undefined) return undefined;
      const message = fromBinary(found.message, event.data);
      return { json: toJson(found.message, message, { registry: found.registry }), messageName: found.message.typeName };
    } catch {
      // Not decodable with the schema (or the registry is unreachable): shown as bytes.
      return undefined;
    }
  }

  /** Closes the registry client, if one was opened. */
  close(): void {
    this.#client?.close();
  }

  #registry(): RegistryClient {
    this.#client ??= this.#connect();
    return this.#client;
  }

  async #subjectOf(type: string): Promise<string | undefined> {
    this.#subjects ??= this.#registry()
      .list()
      .then((schemas: RegisteredSchema[]) => schemas.map((s) => s.subject));
    const subjects = await this.#subjects;
    if (subjects.includes(type)) return type;
    const patterns = subjects.filter((s) => (s.includes("*") || s.includes(">")) && matchesPattern(s, type));
    return patterns.sort(bySpecificity)[0];
  }

  async #load(subject: string, version: number): Promise<Decoder | undefined> {
    const schema = await this.#registry().get(subject, version);
    if (!("protobuf" in schema.definition)) return undefined;
    const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, schema.definition.protobuf.fileDescriptorSet));
    const message = registry.getMessage(schema.definition.protobuf.messageName.replace(/^\./, ""));
    return message === undefined ? undefined : { message, registry };
  }
}
