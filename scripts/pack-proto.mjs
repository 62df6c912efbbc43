#!/usr/bin/env node
// Run by `npm pack` / `npm publish` of @protobus/sdk (its prepack script):
// copies the (protobus.v1.event) option's definition into the package, at
// proto/protobus/v1/options.proto, so that a project that installs the SDK
// adds node_modules/@protobus/sdk/proto to its buf workspace instead of
// copying the file by hand.
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const files = ["protobus/v1/options.proto"];
for (const file of files) {
  const target = join(root, "sdk/proto", file);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(root, "proto", file), target);
}
