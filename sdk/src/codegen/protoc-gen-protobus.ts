/**
 * protoc-gen-protobus: generates typed event definitions on top of the
 * messages protoc-gen-es generates. For each .proto file with messages
 * annotated `(protobus.v1.event)` it writes `<file>_protobus.ts` with one
 * `defineEvent(...)` per message; for each proto package it writes
 * `<package dir>/events_protobus.ts` with the package's event map (a const
 * and its type), which `createClient({ events })` takes.
 *
 * Run it next to protoc-gen-es with the same `out` and options (see the
 * README's "Typed clients" section).
 */
import type { DescFile } from "@bufbuild/protobuf";
import { createEcmaScriptPlugin, type GeneratedFile, type Schema } from "@bufbuild/protoplugin";
import { annotatedEvents, findEventOption, type AnnotatedEvent } from "../typed/event-options.js";

const SDK = "@protobus/sdk";

/** The plugin's version, written into each generated file's preamble. */
export const PLUGIN_VERSION = "v0.1.0";

function camel(parts: string[], upperFirst: boolean): string {
  const joined = parts
    .flatMap((p) => p.split(/[^A-Za-z0-9]+/))
    .filter((p) => p !== "")
    .map((p, i) => (i === 0 && !upperFirst ? p.charAt(0).toLowerCase() + p.slice(1) : p.charAt(0).toUpperCase() + p.slice(1)))
    .join("");
  return /^[0-9]/.test(joined) ? `_${joined}` : joined;
}

/** `examples.agents.v1` → `examplesAgentsV1Events` (the const) and `ExamplesAgentsV1Events` (the type). */
export function eventMapNames(protoPackage: string): { value: string; type: string } {
  const parts = protoPackage === "" ? ["proto"] : protoPackage.split(".");
  return { value: `${camel(parts, false)}Events`, type: `${camel(parts, true)}Events` };
}

function dirOf(file: DescFile): string {
  const slash = file.name.lastIndexOf("/");
  return slash < 0 ? "" : file.name.slice(0, slash + 1);
}

function generateDefinitions(f: GeneratedFile, events: AnnotatedEvent[]): void {
  const defineEvent = f.import("defineEvent", SDK);
  for (const event of events) {
    const name = f.importShape(event.message).name;
    const about = event.description !== "" ? `: ${event.description}` : ".";
    f.print(f.jsDoc(`The event \`${event.type}\`, payload \`${event.message.typeName}\`${about}`));
    const defaults: string[] = [];
    if (event.defaults.priority !== undefined) defaults.push(`priority: ${event.defaults.priority}`);
    if (event.defaults.ttlMs !== undefined) defaults.push(`ttlMs: ${event.defaults.ttlMs}`);
    f.print(f.export("const", name), " = ", defineEvent, "({");
    f.print("  type: ", f.string(event.type), ",");
    f.print("  schema: ", f.importSchema(event.message), ",");
    f.print("  defaults: ", defaults.length === 0 ? "{}" : `{ ${defaults.join(", ")} }`, ",");
    f.print("});");
    f.print();
  }
}

function generateTs(schema: Schema): void {
  const option = findEventOption(schema.allFiles);
  if (option === undefined) return;
  // One type per event across the whole request, not only per file.
  annotatedEvents(schema.files, option);
  const packages = new Map<string, { dir: string; file: DescFile; events: { event: AnnotatedEvent; file: DescFile }[] }>();
  for (const file of schema.files) {
    const events = annotatedEvents([file], option);
    if (events.length === 0) continue;
    const f = schema.generateFile(`${file.name}_protobus.ts`);
    f.preamble(file);
    generateDefinitions(f, events);
    const key = `${dirOf(file)}\u0000${file.proto.package}`;
    const entry = packages.get(key) ?? { dir: dirOf(file), file, events: [] };
    entry.events.push(...events.map((event) => ({ event, file })));
    packages.set(key, entry);
  }
  for (const { dir, file, events } of packages.values()) {
    const names = eventMapNames(file.proto.package);
    const f = schema.generateFile(`${dir}events_protobus.ts`);
    f.preamble(file);
    f.print(f.jsDoc(`Every event of the proto package \`${file.proto.package}\`, by type. Pass it to \`createClient({ events })\`.`));
    f.print(f.export("const", names.value), " = {");
    for (const { event, file: from } of [...events].sort((a, b) => a.event.type.localeCompare(b.event.type))) {
      const shape = f.importShape(event.message).name;
      f.print("  ", f.string(event.type), ": ", f.import(shape, `./${from.name}_protobus.js`), ",");
    }
    f.print("} as const;");
    f.print();
    f.print(f.jsDoc(`The event map type of the proto package \`${file.proto.package}\`.`));
    f.print(f.export("type", names.type), " = typeof ", names.value, ";");
  }
}

/** The plugin, for `runNodeJs` (see the `protoc-gen-protobus` bin). */
export const protocGenProtobus = createEcmaScriptPlugin({
  name: "protoc-gen-protobus",
  version: PLUGIN_VERSION,
  generateTs,
});
