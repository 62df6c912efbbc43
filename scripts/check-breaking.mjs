#!/usr/bin/env node
// Fails when the Protobuf contract breaks wire or JSON compatibility
// (buf's WIRE_JSON rules, configured in buf.yaml) against the previous
// commit. Outside a git checkout, or on the first commit, there is nothing
// to compare with and it says so.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const against = process.env.PROTOBUS_BREAKING_AGAINST ?? "HEAD~1";

function git(...args) {
  return execFileSync("git", args, { cwd: root, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
}

let ref;
try {
  ref = git("rev-parse", "--verify", "--quiet", `${against}^{commit}`);
} catch {
  console.log(`buf breaking: no commit '${against}' to compare with (not a git checkout, or the first commit); nothing to check`);
  process.exit(0);
}
try {
  execFileSync(join(root, "node_modules/.bin/buf"), ["breaking", "--against", `.git#ref=${ref}`], { cwd: root, stdio: "inherit" });
} catch {
  console.error(`buf breaking: the contract in proto/ breaks compatibility with ${against} (${ref.slice(0, 12)})`);
  process.exit(1);
}
console.log(`buf breaking: proto/ is wire and JSON compatible with ${against} (${ref.slice(0, 12)})`);
