/**
 * Schema store conformance: versioning, soft delete, compatibility modes,
 * atomic register-if-compatible and persistence, the same for every backend.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RegistrationContext, RegistrationDecision, SchemaDraft, SchemaStore } from "@protobus/server";
import { BACKENDS, disposeSharedNats, type OpenedBackend } from "./backends.js";

afterAll(() => disposeSharedNats());

function draft(text: string): SchemaDraft {
  return { format: "JSON_SCHEMA", definition: new TextEncoder().encode(text), messageName: "" };
}

const insert = (): RegistrationDecision<string> => ({ kind: "insert" });

describe.each(BACKENDS)("$kind schema store", (harness) => {
  let opened: OpenedBackend;
  let store: SchemaStore;
  beforeEach(async () => {
    opened = await harness.open();
    store = opened.backend.schemas;
  });
  afterEach(() => opened.dispose());

  it("numbers versions per subject and returns them oldest first", async () => {
    const one = await store.register("a.b.c", draft('{"v":1}'), insert);
    const two = await store.register("a.b.c", draft('{"v":2}'), insert);
    const other = await store.register("a.*", { format: "PROTOBUF", definition: new Uint8Array([10, 0]), messageName: "x.y.Z" }, insert);
    expect(one.kind === "inserted" && one.schema.version).toBe(1);
    expect(two.kind === "inserted" && two.schema.version).toBe(2);
    expect(other.kind === "inserted" && other.schema.version).toBe(1);
    const versions = await store.versions("a.b.c");
    expect(versions.map((s) => [s.version, new TextDecoder().decode(s.definition)])).toEqual([
      [1, '{"v":1}'],
      [2, '{"v":2}'],
    ]);
    expect(versions[0]?.createTime).toBeInstanceOf(Date);
    const latest = await store.get("a.b.c");
    expect(latest?.version).toBe(2);
    expect((await store.get("a.b.c", 1))?.format).toBe("JSON_SCHEMA");
    const proto = await store.get("a.*");
    expect(proto).toMatchObject({ subject: "a.*", version: 1, format: "PROTOBUF", messageName: "x.y.Z", deleted: false });
    expect([...(proto?.definition ?? [])]).toEqual([10, 0]);
    expect(await store.get("missing")).toBeUndefined();
    expect(await store.get("a.b.c", 9)).toBeUndefined();
    expect((await store.list()).map((s) => [s.subject, s.version])).toEqual([
      ["a.*", 1],
      ["a.b.c", 2],
    ]);
  });

  it("hands the decision the live history and both modes, and stores nothing on reject", async () => {
    await store.register("t.x", draft("1"), insert);
    await store.register("t.x", draft("2"), insert);
    await store.softDelete("t.x", 1);
    await store.setCompatibility(undefined, "FULL");
    await store.setCompatibility("t.x", "FORWARD_TRANSITIVE");
    let seen: RegistrationContext | undefined;
    const outcome = await store.register<string>("t.x", draft("3"), (context) => {
      seen = context;
      return { kind: "reject", violations: ["FIELD_NO_DELETE", "FIELD_SAME_TYPE"] };
    });
    expect(outcome).toEqual({ kind: "rejected", violations: ["FIELD_NO_DELETE", "FIELD_SAME_TYPE"] });
    expect(seen?.versions.map((s) => s.version)).toEqual([2]);
    expect(seen?.subjectMode).toBe("FORWARD_TRANSITIVE");
    expect(seen?.globalMode).toBe("FULL");
    expect((await store.versions("t.x", { includeDeleted: true })).map((s) => s.version)).toEqual([1, 2]);
  });

  it("answers an existing version without storing anything", async () => {
    await store.register("t.x", draft("1"), insert);
    const outcome = await store.register("t.x", draft("1"), () => ({ kind: "existing", version: 1 }));
    expect(outcome.kind).toBe("existing");
    expect(outcome.kind === "existing" && outcome.schema.version).toBe(1);
    expect(await store.versions("t.x")).toHaveLength(1);
  });

  it("soft-deletes: the version stays readable, leaves latest and list, and its number is never reused", async () => {
    await store.register("t.x", draft("1"), insert);
    await store.register("t.x", draft("2"), insert);
    const deleted = await store.softDelete("t.x", 2);
    expect(deleted).toMatchObject({ subject: "t.x", version: 2, deleted: true });
    expect(await store.softDelete("t.x", 7)).toBeUndefined();
    expect((await store.get("t.x"))?.version).toBe(1);
    expect((await store.get("t.x", 2))?.deleted).toBe(true);
    expect((await store.versions("t.x")).map((s) => s.version)).toEqual([1]);
    await store.softDelete("t.x", 1);
    expect(await store.get("t.x")).toBeUndefined();
    expect(await store.list()).toEqual([]);
    expect((await store.list({ includeDeleted: true })).map((s) => [s.subject, s.version, s.deleted])).toEqual([["t.x", 2, true]]);
    const next = await store.register("t.x", draft("3"), insert);
    expect(next.kind === "inserted" && next.schema.version).toBe(3);
  });

  it("keeps global and per-subject modes apart, and clears a subject's mode", async () => {
    expect(await store.getCompatibility(undefined)).toBeUndefined();
    expect(await store.getCompatibility("t.x")).toBeUndefined();
    await store.setCompatibility(undefined, "NONE");
    await store.setCompatibility("t.x", "FULL");
    expect(await store.getCompatibility(undefined)).toBe("NONE");
    expect(await store.getCompatibility("t.x")).toBe("FULL");
    await store.setCompatibility("t.x", "BACKWARD_TRANSITIVE");
    expect(await store.getCompatibility("t.x")).toBe("BACKWARD_TRANSITIVE");
    await store.setCompatibility("t.x", undefined);
    expect(await store.getCompatibility("t.x")).toBeUndefined();
    expect(await store.getCompatibility(undefined)).toBe("NONE");
  });

  it("lets only one of many concurrent registrations pass a check against the same history", async () => {
    // Each registration is allowed only when the subject is still empty: if
    // the check and the insert were not atomic, several would pass.
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.register<string>("race.x", draft(String(i)), (context) =>
          context.versions.length === 0 ? { kind: "insert" } : { kind: "reject", violations: ["taken"] },
        ),
      ),
    );
    expect(outcomes.filter((o) => o.kind === "inserted")).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === "rejected")).toHaveLength(7);
    expect(await store.versions("race.x")).toHaveLength(1);
  });

  it("tells listeners which subject changed", async () => {
    const seen: string[] = [];
    const remove = store.onChange((subject) => seen.push(subject));
    await store.register("t.x", draft("1"), insert);
    await store.register<string>("t.x", draft("2"), () => ({ kind: "reject", violations: [] }));
    await store.setCompatibility("t.y", "NONE");
    await store.setCompatibility(undefined, "FULL");
    await store.softDelete("t.x", 1);
    remove();
    await store.register("t.z", draft("1"), insert);
    expect(seen).toEqual(["t.x", "t.y", "", "t.x"]);
  });

  it(harness.durable ? "keeps schemas and modes across a restart" : "starts empty after a restart (keeps nothing)", async () => {
    await store.register("t.x", draft("1"), insert);
    await store.register("t.x", draft("2"), insert);
    await store.softDelete("t.x", 1);
    await store.setCompatibility("t.x", "FULL");
    await store.setCompatibility(undefined, "NONE");
    const reopened = (await opened.reopen()).schemas;
    if (!harness.durable) {
      expect(await reopened.list({ includeDeleted: true })).toEqual([]);
      expect(await reopened.getCompatibility(undefined)).toBeUndefined();
      return;
    }
    expect((await reopened.versions("t.x", { includeDeleted: true })).map((s) => [s.version, s.deleted])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(new TextDecoder().decode((await reopened.get("t.x"))?.definition)).toBe("2");
    expect(await reopened.getCompatibility("t.x")).toBe("FULL");
    expect(await reopened.getCompatibility(undefined)).toBe("NONE");
  });
});
