// Module resolution hooks of a benchmark process that runs another build
// of protobus (`--compare`): a package that the harness itself imports
// (a bare specifier from a file under bench/) resolves in that build's
// tree, so the server role runs its @protobus/server and the load
// generator its @protobus/sdk, each with that build's own dependencies
// (one grpc-js and one protobuf runtime per process). Packages the build
// does not have (a newer harness's pg, say) resolve here as before; its
// @protobus packages never do, so a build that lacks one fails instead of
// mixing builds.
import { isBuiltin } from "node:module";

const BENCH = new URL("../", import.meta.url).href;
let buildRoot;

/** Receives the build's root folder as a file URL ending in "/". */
export function initialize(data) {
  buildRoot = data.root;
}

function bare(specifier) {
  return !/^(\.|\/|[a-z][a-z0-9+.-]*:)/i.test(specifier) && !isBuiltin(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  if (buildRoot === undefined || !bare(specifier) || !context.parentURL?.startsWith(BENCH)) return nextResolve(specifier, context);
  try {
    return await nextResolve(specifier, { ...context, parentURL: new URL("package.json", buildRoot).href });
  } catch (error) {
    if (specifier.startsWith("@protobus/")) throw error;
    return nextResolve(specifier, context);
  }
}
