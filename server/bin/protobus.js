#!/usr/bin/env node
// The `protobus` command. The CLI is compiled to dist/ by `npm install`
// (the root `prepare` script runs `tsc -b`).
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv);
