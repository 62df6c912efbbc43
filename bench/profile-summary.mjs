#!/usr/bin/env node
// `node bench/profile-summary.mjs <file.cpuprofile> [top]`: the functions
// with the most self time and the most total (inclusive) time in a V8 CPU
// profile written by `npm run bench -- --profile`.
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: node bench/profile-summary.mjs <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfTicks = new Map();
for (const id of profile.samples) selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
const total = profile.samples.length;

const name = (n) => {
  const f = n.callFrame;
  const where = f.url === "" ? "" : ` ${f.url.replace(/^.*\/(node_modules|src|dist|bench)\//, "$1/")}:${f.lineNumber + 1}`;
  return `${f.functionName || "(anonymous)"}${where}`;
};
const self = new Map();
const inclusive = new Map();
for (const [id, ticks] of selfTicks) {
  const key = name(nodes.get(id));
  self.set(key, (self.get(key) ?? 0) + ticks);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(nodes.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + ticks);
  }
}
const show = (title, map) => {
  console.log(`\n${title}`);
  for (const [key, ticks] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((ticks / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
  }
};
show("self time", self);
show("total time", inclusive);
