/**
 * The Protobuf compatibility checker against `buf breaking`, on a corpus of
 * before/after .proto pairs (test/fixtures/registry/protobuf/<case>/). For
 * each pair, buf runs in this test on the same files (rules WIRE_JSON plus
 * MESSAGE_NO_DELETE and ENUM_NO_DELETE, the set our checker implements), and
 * our BACKWARD, FORWARD and FULL verdicts must equal buf's:
 * BACKWARD = `buf breaking after --against before`, FORWARD = the roles
 * swapped, FULL = both. Every case file holds only the event message (its
 * first message) and the types it reaches, which is the scope our checker
 * compares.
 *
 * To stay fast, all cases go into one workspace per side (each case in its
 * own directory and package), built once into an image; buf breaking then
 * runs twice in all, and its JSON findings are grouped by case directory.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCompatibility, parseDefinition, type CompatibilityMode, type ParsedSchema } from "@protobus/server";
import { REPO_ROOT, tempDir } from "../support/test-server.js";

const run = promisify(execFile);
const BUF = join(REPO_ROOT, "node_modules/.bin/buf");
const CORPUS = join(REPO_ROOT, "test/fixtures/registry/protobuf");
const RULES = ["WIRE_JSON", "MESSAGE_NO_DELETE", "ENUM_NO_DELETE"];
const BUF_CONFIG = `version: v2\nbreaking:\n  use:\n${RULES.map((r) => `    - ${r}`).join("\n")}\n`;

const cases = readdirSync(CORPUS).sort();

interface Side {
  image: string;
  dir: string;
}

async function buildSide(root: string, name: "before" | "after"): Promise<Side> {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "buf.yaml"), BUF_CONFIG);
  for (const c of cases) {
    mkdirSync(join(dir, c));
    cpSync(join(CORPUS, c, `${name}.proto`), join(dir, c, "event.proto"));
  }
  const image = join(root, `${name}.binpb`);
  await run(BUF, ["build", dir, "-o", image]);
  return { image, dir };
}

/** Runs `buf breaking input --against against`; returns the rule ids found per case directory. */
async function bufBreaking(input: Side, against: Side): Promise<Map<string, string[]>> {
  let stdout = "";
  try {
    ({ stdout } = await run(BUF, ["breaking", input.image, "--against", against.image, "--config", BUF_CONFIG, "--error-format", "json"]));
  } catch (error) {
    // buf exits 100 when it finds breaking changes; anything else is a failure of the test setup.
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    if (failure.code !== 100) throw new Error(`buf breaking failed: ${failure.stderr ?? String(error)}`);
    stdout = failure.stdout ?? "";
  }
  const found = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    if (line.trim() === "") continue;
    const finding = JSON.parse(line) as { path: string; type: string };
    const c = finding.path.split("/")[0] ?? "";
    found.set(c, [...(found.get(c) ?? []), finding.type]);
  }
  return found;
}

/** The case's schema as the registry would hold it: the whole image, the file's first message. */
function schemaOf(image: Uint8Array, caseName: string, side: string): ParsedSchema {
  const text = readFileSync(join(CORPUS, caseName, `${side}.proto`), "utf8");
  const pkg = /^package\s+([\w.]+);/m.exec(text)?.[1];
  const message = /^message\s+(\w+)/m.exec(text)?.[1];
  if (pkg === undefined || message === undefined) throw new Error(`${caseName}/${side}.proto needs a package and a message`);
  return parseDefinition({ format: "PROTOBUF", definition: image, messageName: `${pkg}.${message}` });
}

function ourVerdict(before: ParsedSchema, after: ParsedSchema, mode: CompatibilityMode): string[] {
  return checkCompatibility(after, [{ version: 1, parsed: before }], mode).map((v) => `${v.direction} ${v.rule} ${v.path}: ${v.description}`);
}

describe("protobuf compatibility agrees with buf breaking", () => {
  const dir = tempDir("protobus-corpus-");
  let backwardByBuf: Map<string, string[]>;
  let forwardByBuf: Map<string, string[]>;
  let beforeImage: Uint8Array;
  let afterImage: Uint8Array;

  beforeAll(async () => {
    const [before, after] = await Promise.all([buildSide(dir.path, "before"), buildSide(dir.path, "after")]);
    [backwardByBuf, forwardByBuf] = await Promise.all([bufBreaking(after, before), bufBreaking(before, after)]);
    beforeImage = readFileSync(before.image);
    afterImage = readFileSync(after.image);
  });
  afterAll(() => dir.dispose());

  it("has at least 20 pairs, with both verdicts represented in each direction", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
    const brokenBackward = cases.filter((c) => backwardByBuf.has(c)).length;
    const brokenForward = cases.filter((c) => forwardByBuf.has(c)).length;
    expect(brokenBackward).toBeGreaterThan(0);
    expect(brokenBackward).toBeLessThan(cases.length);
    expect(brokenForward).toBeGreaterThan(0);
    expect(brokenForward).toBeLessThan(cases.length);
  });

  it.each(cases)("%s", (caseName) => {
    const before = schemaOf(beforeImage, caseName, "before");
    const after = schemaOf(afterImage, caseName, "after");
    const buf = {
      BACKWARD: backwardByBuf.get(caseName) ?? [],
      FORWARD: forwardByBuf.get(caseName) ?? [],
    };
    const ours = {
      BACKWARD: ourVerdict(before, after, "BACKWARD"),
      FORWARD: ourVerdict(before, after, "FORWARD"),
      FULL: ourVerdict(before, after, "FULL"),
    };
    const verdict = (breaks: readonly string[]): string => (breaks.length === 0 ? "compatible" : "breaking");
    // Compare verdicts with both sides' reasons attached, so a disagreement explains itself.
    expect({ mode: "BACKWARD", ours: verdict(ours.BACKWARD), buf: verdict(buf.BACKWARD), why: { ours: ours.BACKWARD, buf: buf.BACKWARD } }).toMatchObject({
      ours: verdict(buf.BACKWARD),
    });
    expect({ mode: "FORWARD", ours: verdict(ours.FORWARD), buf: verdict(buf.FORWARD), why: { ours: ours.FORWARD, buf: buf.FORWARD } }).toMatchObject({
      ours: verdict(buf.FORWARD),
    });
    expect({ mode: "FULL", ours: verdict(ours.FULL) }).toMatchObject({ ours: verdict([...buf.BACKWARD, ...buf.FORWARD]) });
  });
});
