/**
 * Every hosted service has a handler for every RPC of its .proto: the
 * handler objects are typed against the generated `...Server` interfaces
 * (checked by `npm run typecheck`: an object missing a handler is a type
 * error, see the `@ts-expect-error` below), and at run time each method of
 * each registered definition answers with something other than
 * UNIMPLEMENTED.
 */
import { describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { IDEMPOTENT_METHODS } from "@protobus/sdk";
import { EventBusService, SchemaRegistryService, type EventBusServer } from "@protobus/sdk/proto";
import { startTestServer } from "../support/test-server.js";

describe("typed service implementations", () => {
  it("do not compile without a handler for each RPC", () => {
    const handler = (): void => undefined;
    // @ts-expect-error getDeliveryStats is missing: not an EventBusServer
    const incomplete: EventBusServer = {
      publish: handler,
      publishStream: handler,
      subscribe: handler,
      queryEvents: handler,
      getEvent: handler,
      getBusInfo: handler,
      getFlow: handler,
      listGroups: handler,
      getGroup: handler,
      deleteGroup: handler,
      listDeadLetters: handler,
      redriveDeadLetters: handler,
      purgeDeadLetters: handler,
    };
    expect(Object.keys(incomplete)).toHaveLength(Object.keys(EventBusService).length - 1);
  });

  it("answer every unary RPC of EventBus and SchemaRegistry with something other than UNIMPLEMENTED", async () => {
    await using t = await startTestServer({ store: "memory" });
    const channel = new grpc.Client(t.address, grpc.credentials.createInsecure());
    try {
      const definitions = [EventBusService, SchemaRegistryService] as unknown as Array<Record<string, grpc.MethodDefinition<unknown, unknown>>>;
      for (const definition of definitions) {
        for (const method of Object.values(definition)) {
          if (method.requestStream || method.responseStream) continue;
          const code = await new Promise<number>((resolve) => {
            channel.makeUnaryRequest(method.path, () => Buffer.alloc(0), (b: Buffer) => b, {}, (error) => resolve(error?.code ?? grpc.status.OK));
          });
          expect(code, method.path).not.toBe(grpc.status.UNIMPLEMENTED);
        }
      }
    } finally {
      channel.close();
    }
  });

  it("lists as idempotent (retried by the SDK) only unary RPCs that exist", () => {
    const methods = [EventBusService, SchemaRegistryService].flatMap((d) => Object.values(d as unknown as Record<string, grpc.MethodDefinition<unknown, unknown>>));
    for (const path of IDEMPOTENT_METHODS) {
      const method = methods.find((m) => m.path === path);
      expect(method, path).toBeDefined();
      expect(method?.requestStream || method?.responseStream, path).toBe(false);
    }
  });
});
