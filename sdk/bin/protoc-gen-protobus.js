#!/usr/bin/env node
// protoc-gen-protobus: typed protobus event definitions for messages
// annotated with (protobus.v1.event), on top of protoc-gen-es output.
// Compiled to dist/ by `npm install` (the root `prepare` script runs tsc -b).
import { runNodeJs } from "@bufbuild/protoplugin";
import { protocGenProtobus } from "../dist/codegen/protoc-gen-protobus.js";

runNodeJs(protocGenProtobus);
