// Loaded with `--import` into the processes of a side measured on another
// build of protobus: installs the resolution hooks of build-hooks.mjs for
// the build named by PROTOBUS_BENCH_BUILD (a folder).
import { register } from "node:module";
import { pathToFileURL } from "node:url";

const root = process.env.PROTOBUS_BENCH_BUILD;
if (root !== undefined && root !== "") register("./build-hooks.mjs", import.meta.url, { data: { root: pathToFileURL(`${root}/`).href } });
