/**
 * gRPC server reflection (v1 and v1alpha) answered from the complete
 * descriptor set that `buf build` writes at generation time, so stock tools
 * (`buf curl`, grpcurl, Postman) can list and call every service without our
 * .proto files.
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary, toBinary, type DescFile, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { ServerReflectionRequest, ServerReflectionResponse, ServerReflectionServer } from "@protobus/sdk/proto";

/** Reads the descriptor set that ships with @protobus/sdk. */
export function loadBundledDescriptorSet(): Uint8Array {
  const require = createRequire(import.meta.url);
  return readFileSync(require.resolve("@protobus/sdk/descriptor"));
}

/** Answers reflection requests from one descriptor set. */
export class DescriptorReflection {
  readonly #registry: Registry & Iterable<unknown>;
  readonly #files = new Map<string, Uint8Array>();
  readonly #fileDescs = new Map<string, DescFile>();
  readonly #services: readonly string[];

  /**
   * @param descriptorSet a serialized `google.protobuf.FileDescriptorSet`
   *   (or buf image) holding every file the server uses, imports included.
   * @param services the fully qualified names of the services served.
   */
  constructor(descriptorSet: Uint8Array, services: readonly string[]) {
    const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
    const registry = createFileRegistry(set);
    this.#registry = registry;
    for (const proto of set.file) this.#files.set(proto.name, toBinary(FileDescriptorProtoSchema, proto));
    for (const file of registry.files) this.#fileDescs.set(file.proto.name, file);
    this.#services = services;
  }

  /** The response to one request. */
  answer(request: ServerReflectionRequest): ServerReflectionResponse {
    const base = { validHost: request.host, originalRequest: request };
    const message = request.messageRequest;
    try {
      switch (message?.$case) {
        case "listServices":
          return {
            ...base,
            messageResponse: {
              $case: "listServicesResponse",
              listServicesResponse: { service: this.#services.map((name) => ({ name })) },
            },
          };
        case "fileByFilename":
          return this.#filesResponse(base, this.#fileDescs.get(message.fileByFilename), message.fileByFilename);
        case "fileContainingSymbol":
          return this.#filesResponse(base, this.#fileOfSymbol(message.fileContainingSymbol), message.fileContainingSymbol);
        case "fileContainingExtension": {
          const { containingType, extensionNumber } = message.fileContainingExtension;
          const extendee = this.#registry.getMessage(containingType);
          const extension = extendee === undefined ? undefined : this.#registry.getExtensionFor(extendee, extensionNumber);
          return this.#filesResponse(base, extension?.file, `${containingType}(${extensionNumber})`);
        }
        case "allExtensionNumbersOfType": {
          const name = message.allExtensionNumbersOfType;
          if (this.#registry.getMessage(name) === undefined) return this.#notFound(base, name);
          const numbers: number[] = [];
          for (const file of this.#fileDescs.values()) {
            for (const ext of file.extensions) if (ext.extendee.typeName === name) numbers.push(ext.number);
          }
          return {
            ...base,
            messageResponse: {
              $case: "allExtensionNumbersResponse",
              allExtensionNumbersResponse: { baseTypeName: name, extensionNumber: numbers },
            },
          };
        }
        case undefined:
          return this.#error(base, 3, "the request names no query");
      }
    } catch (error) {
      return this.#error(base, 13, error instanceof Error ? error.message : String(error));
    }
  }

  #fileOfSymbol(symbol: string): DescFile | undefined {
    const found = this.#registry.get(symbol);
    if (found !== undefined) return found.file;
    // Methods, fields and enum values are named below their parent.
    const dot = symbol.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const parent = this.#registry.get(symbol.slice(0, dot));
    if (parent === undefined) return undefined;
    const member = symbol.slice(dot + 1);
    switch (parent.kind) {
      case "service":
        return parent.methods.some((m) => m.name === member) ? parent.file : undefined;
      case "message":
        return parent.fields.some((f) => f.name === member) ? parent.file : undefined;
      case "enum":
        return parent.values.some((v) => v.name === member) ? parent.file : undefined;
      default:
        return undefined;
    }
  }

  #filesResponse(
    base: Pick<ServerReflectionResponse, "validHost" | "originalRequest">,
    file: DescFile | undefined,
    what: string,
  ): ServerReflectionResponse {
    if (file === undefined) return this.#notFound(base, what);
    // Send the file with all it depends on, so the client needs no second trip.
    const ordered: Buffer[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile): void => {
      if (seen.has(f.proto.name)) return;
      seen.add(f.proto.name);
      const bytes = this.#files.get(f.proto.name);
      if (bytes !== undefined) ordered.push(Buffer.from(bytes));
      for (const dep of f.dependencies) visit(dep);
    };
    visit(file);
    return {
      ...base,
      messageResponse: { $case: "fileDescriptorResponse", fileDescriptorResponse: { fileDescriptorProto: ordered } },
    };
  }

  #notFound(base: Pick<ServerReflectionResponse, "validHost" | "originalRequest">, what: string): ServerReflectionResponse {
    return this.#error(base, 5, `'${what}' not found`);
  }

  #error(
    base: Pick<ServerReflectionResponse, "validHost" | "originalRequest">,
    errorCode: number,
    errorMessage: string,
  ): ServerReflectionResponse {
    return { ...base, messageResponse: { $case: "errorResponse", errorResponse: { errorCode, errorMessage } } };
  }

  /** A grpc-js implementation of the ServerReflection service (either version). */
  implementation(): ServerReflectionServer {
    return {
      serverReflectionInfo: (call: ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>) => {
        call.on("data", (request: ServerReflectionRequest) => call.write(this.answer(request)));
        call.on("end", () => call.end());
        call.on("error", () => call.end());
      },
    };
  }
}
