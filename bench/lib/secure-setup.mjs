// TLS and token authentication for a benchmark server: a throwaway CA and
// server certificate made with openssl, one token, and a policy that lets it
// publish and subscribe everything (so every event is still decided).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

function openssl(args, cwd) {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Server settings and what a client needs to connect, in `dir`. The server
 * package is imported here, not at the top, so that a build without token
 * authentication (`--compare` of an older revision) still runs every other
 * scenario.
 */
export async function secureSetup(dir) {
  const { createToken } = await import("@protobus/server");
  if (typeof createToken !== "function") throw Object.assign(new Error("this build has no token authentication"), { unavailable: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=bench-ca"], dir);
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], dir);
  writeFileSync(join(dir, "server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "1", "-extfile", "server.ext"], dir);
  const tokenFile = join(dir, "tokens.yaml");
  const { token } = createToken(tokenFile, { principal: "bench" });
  const policy = join(dir, "policy.yaml");
  writeFileSync(policy, "grants:\n  - principals: [bench]\n    publish: ['>']\n    subscribe: ['>']\n");
  return {
    config: { tlsCert: join(dir, "server.crt"), tlsKey: join(dir, "server.key"), tokenFile, policy },
    client: { tls: { ca: readFileSync(join(dir, "ca.crt"), "utf8") }, token },
  };
}
