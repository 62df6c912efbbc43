/**
 * A new RPC cannot ship without an authorization decision: every method of
 * every service in the platform's contract (the descriptor set generated
 * from proto/, so an RPC added to a .proto and generated is seen here) is
 * hosted, and has a rule in `rpc-rules.ts` unless its whole service is open;
 * no rule names a method that does not exist. (That a hosted service has a
 * handler for each RPC is checked at compile time, test/transport/typed-services.test.ts.)
 */
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { OPEN_SERVICES, RPC_RULES, ruleOf } from "../../server/src/security/rpc-rules.js";
import { SERVED_DEFINITIONS, SERVED_SERVICES } from "../../server/src/transport/services.js";

const require = createRequire(import.meta.url);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(require.resolve("@protobus/sdk/descriptor"))));

/** Every service the contract declares, with the gRPC path of each method. */
function declaredServices(): Array<{ service: DescService; paths: string[] }> {
  const out: Array<{ service: DescService; paths: string[] }> = [];
  for (const type of registry) {
    if (type.kind !== "service") continue;
    out.push({ service: type, paths: type.methods.map((m) => `/${type.typeName}/${m.name}`) });
  }
  return out;
}

/** The paths among `paths` the authorization link would refuse to everyone: no rule, service not open. */
function unruled(paths: readonly string[]): string[] {
  return paths.filter((path) => ruleOf(path) === undefined && !OPEN_SERVICES.includes(path.split("/")[1] ?? ""));
}

describe("authorization rules cover the contract", () => {
  const declared = declaredServices();
  const platform = declared.filter((d) => d.service.typeName.startsWith("protobus."));

  it("finds the platform's services in the descriptor set", () => {
    expect(platform.map((d) => d.service.typeName)).toEqual(expect.arrayContaining(["protobus.v1.EventBus", "protobus.v1.SchemaRegistry"]));
  });

  it("hosts every service of the platform's contract", () => {
    for (const { service } of platform) expect(SERVED_SERVICES, service.typeName).toContain(service.typeName);
  });

  it("has a rule for every method of every hosted service, or the service is open", () => {
    const hosted = declared.filter((d) => (SERVED_SERVICES as readonly string[]).includes(d.service.typeName));
    expect(hosted.map((d) => d.service.typeName).sort()).toEqual([...SERVED_SERVICES].sort());
    expect(unruled(hosted.flatMap((d) => d.paths))).toEqual([]);
    const served = SERVED_DEFINITIONS.flatMap((definition) => Object.values(definition).map((method) => method.path));
    expect(unruled(served)).toEqual([]);
  });

  it("has no rule for a method that does not exist", () => {
    const paths = new Set(declared.flatMap((d) => d.paths));
    expect(Object.keys(RPC_RULES).filter((path) => !paths.has(path))).toEqual([]);
  });

  it("would catch an RPC added without a rule", () => {
    expect(unruled(["/protobus.v1.EventBus/Publish", "/protobus.v1.EventBus/SomethingNew", "/grpc.health.v1.Health/Anything"])).toEqual([
      "/protobus.v1.EventBus/SomethingNew",
    ]);
  });
});
