/**
 * Helpers of the registry tests: the fixture schemas (a Protobuf descriptor
 * set built with the real buf binary, JSON Schemas from disk) and payload
 * encoders built from the same descriptors.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createFileRegistry, fromBinary, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { REPO_ROOT } from "../support/test-server.js";

export const BUF = join(REPO_ROOT, "node_modules/.bin/buf");
export const FIXTURES = join(REPO_ROOT, "test/fixtures/registry");
export const PROTO_DIR = join(FIXTURES, "proto");
export const TASK_CREATED = "fixtures.agents.v1.TaskCreated";

/** Builds a descriptor set (imports included) of a proto directory with `buf build`. */
export function buildDescriptorSet(dir: string = PROTO_DIR): Uint8Array {
  return new Uint8Array(execFileSync(BUF, ["build", dir, "-o", "-#format=binpb"]));
}

let fixtureSet: Uint8Array | undefined;

/** The fixture descriptor set, built once per test file. */
export function fixtureDescriptorSet(): Uint8Array {
  fixtureSet ??= buildDescriptorSet();
  return fixtureSet;
}

/** A registry over a descriptor set, to encode test payloads. */
export function registryOf(set: Uint8Array): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, set));
}

/** A message of the fixture set. */
export function fixtureMessage(name: string): DescMessage {
  const message = registryOf(fixtureDescriptorSet()).getMessage(name);
  if (message === undefined) throw new Error(`no message ${name} in the fixtures`);
  return message;
}

/** A JSON Schema fixture's text. */
export function jsonFixture(name: string): string {
  return readFileSync(join(FIXTURES, "json", name), "utf8");
}
