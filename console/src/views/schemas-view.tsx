/**
 * Schemas: every subject with its latest version, and for the selected one
 * its versions, the definition of any version, a diff between two versions,
 * the compatibility mode, and a form that checks a candidate definition
 * (a JSON Schema, or a Protobuf descriptor set from `buf build -o`) against
 * the subject without registering it.
 */
import { diffLines } from "diff";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, call } from "../api.js";
import { formatTime } from "../format.js";
import { Compatibility, SchemaRegistry, type CheckCompatibilityResponse, type CompatibilitySetting, type Schema } from "../gen/protobus/v1/registry_pb.js";
import { navigate } from "../router.js";
import { schemaText } from "../schema-text.js";

function describe(error: unknown): string {
  return error instanceof ApiError ? error.describe() : String(error);
}

const MODES = Object.entries(Compatibility)
  .filter(([, value]) => typeof value === "number" && value !== Compatibility.UNSPECIFIED)
  .map(([name, value]) => ({ name, value: value as Compatibility }));

function modeName(mode: Compatibility | undefined): string {
  return MODES.find((m) => m.value === mode)?.name ?? "BACKWARD (default)";
}

function SchemaDiff({ from, to }: { from: Schema; to: Schema }) {
  const parts = useMemo(() => diffLines(schemaText(from), schemaText(to)), [from, to]);
  return (
    <pre class="diff" data-testid="schema-diff">
      {parts.map((part, i) => (
        <span key={i} class={part.added ? "added" : part.removed ? "removed" : ""}>
          {part.value
            .replace(/\n$/, "")
            .split("\n")
            .map((line) => `${part.added ? "+ " : part.removed ? "- " : "  "}${line}\n`)
            .join("")}
        </span>
      ))}
    </pre>
  );
}

function CheckForm({ subject, protobuf }: { subject: string; protobuf: boolean }) {
  const [jsonSchema, setJsonSchema] = useState("");
  const [file, setFile] = useState<File | undefined>(undefined);
  const [messageName, setMessageName] = useState("");
  const [mode, setMode] = useState<Compatibility>(Compatibility.UNSPECIFIED);
  const [result, setResult] = useState<CheckCompatibilityResponse | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const check = async (): Promise<void> => {
    setError(undefined);
    setResult(undefined);
    try {
      const definition = protobuf
        ? { case: "protobuf" as const, value: { fileDescriptorSet: new Uint8Array(await (file ?? new Blob()).arrayBuffer()), messageName: messageName.trim() } }
        : { case: "jsonSchema" as const, value: jsonSchema };
      setResult(await call(SchemaRegistry.method.checkCompatibility, { schema: { subject, definition }, compatibility: mode }));
    } catch (failure) {
      setError(describe(failure));
    }
  };
  return (
    <form
      class="check-form"
      onSubmit={(e) => {
        e.preventDefault();
        void check();
      }}
    >
      <h3>Check compatibility</h3>
      {protobuf ? (
        <div class="toolbar wrap">
          <label>
            descriptor set <input type="file" name="descriptorSet" onChange={(e) => setFile(e.currentTarget.files?.[0])} />
          </label>
          <label class="grow">
            message <input name="messageName" value={messageName} placeholder="examples.agents.v1.TaskCreated" onInput={(e) => setMessageName(e.currentTarget.value)} />
          </label>
        </div>
      ) : (
        <textarea name="candidate" rows={8} placeholder='{"type": "object", "properties": {...}}' value={jsonSchema} onInput={(e) => setJsonSchema(e.currentTarget.value)} />
      )}
      <div class="toolbar">
        <label>
          mode{" "}
          <select value={mode} onChange={(e) => setMode(Number(e.currentTarget.value) as Compatibility)}>
            <option value={Compatibility.UNSPECIFIED}>the subject's</option>
            {MODES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.name}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Check</button>
      </div>
      {error !== undefined && <p class="error">{error}</p>}
      {result !== undefined && (
        <div class={result.compatible ? "notice" : "error"} data-testid="check-result">
          {result.compatible ? "Compatible" : "Not compatible"} under {modeName(result.compatibility)} with version(s) {result.checkedVersions.join(", ") || "none"}.
          {result.violations.map((v, i) => (
            <div key={i}>
              {v.path !== "" ? `${v.path}: ` : ""}
              {v.description} {v.version > 0 ? `(v${v.version}${v.direction !== "" ? `, ${v.direction}` : ""})` : ""}
            </div>
          ))}
        </div>
      )}
    </form>
  );
}

function SubjectDetail({ subject }: { subject: string }) {
  const [versions, setVersions] = useState<Schema[] | undefined>(undefined);
  const [setting, setSetting] = useState<CompatibilitySetting | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [shown, setShown] = useState(0);
  const [diffFrom, setDiffFrom] = useState(0);
  useEffect(() => {
    let live = true;
    setVersions(undefined);
    call(SchemaRegistry.method.listVersions, { subject, includeDeleted: true }).then(
      (answer) => {
        if (!live) return;
        setVersions(answer.schemas);
        const live_ = answer.schemas.filter((s) => !s.deleted);
        const latest = live_[live_.length - 1] ?? answer.schemas[answer.schemas.length - 1];
        setShown(latest?.version ?? 0);
        setDiffFrom(live_.length >= 2 ? (live_[live_.length - 2]?.version ?? 0) : 0);
      },
      (failure: unknown) => live && setError(describe(failure)),
    );
    call(SchemaRegistry.method.getCompatibility, { subject }).then(
      (answer) => live && setSetting(answer),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [subject]);
  if (error !== undefined) return <p class="error">{error}</p>;
  if (versions === undefined) return <p class="empty">Loading…</p>;
  const current = versions.find((v) => v.version === shown);
  const base = versions.find((v) => v.version === diffFrom);
  return (
    <div class="panel">
      <h2>{subject}</h2>
      <p>
        compatibility <strong data-testid="compatibility">{modeName(setting?.compatibility)}</strong>
        {setting?.inherited === true && <span class="muted"> (inherited from the global mode)</span>}
      </p>
      <table class="versions">
        <thead>
          <tr>
            <th>version</th>
            <th>format</th>
            <th>registered</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => (
            <tr key={v.version} class={v.version === shown ? "selected" : ""}>
              <td class="num">v{v.version}</td>
              <td>{v.definition.case === "protobuf" ? `protobuf ${v.definition.value.messageName}` : "JSON Schema"}</td>
              <td class="time">
                {formatTime(v.createTime)}
                {v.deleted && <span class="warn"> deleted</span>}
              </td>
              <td>
                <button type="button" class="link" onClick={() => setShown(v.version)}>
                  show
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="toolbar">
        <label>
          diff from{" "}
          <select name="diffFrom" value={diffFrom} onChange={(e) => setDiffFrom(Number(e.currentTarget.value))}>
            <option value={0}>(no diff)</option>
            {versions
              .filter((v) => v.version !== shown)
              .map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
          </select>
        </label>
        <span>to v{shown}</span>
      </div>
      {current !== undefined && base !== undefined && base !== current ? (
        <SchemaDiff from={base} to={current} />
      ) : (
        current !== undefined && <pre class="definition">{schemaText(current)}</pre>
      )}
      {current !== undefined && <CheckForm subject={subject} protobuf={current.definition.case === "protobuf"} />}
    </div>
  );
}

export function SchemasView({ subject }: { subject: string }) {
  const [schemas, setSchemas] = useState<Schema[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    call(SchemaRegistry.method.listSchemas, {}).then(
      (answer) => setSchemas(answer.schemas),
      (failure: unknown) => setError(describe(failure)),
    );
  }, []);
  return (
    <section class="view schemas">
      <div class="subjects">
        {error !== undefined && <p class="error">{error}</p>}
        {schemas === undefined ? (
          <p class="empty">Loading…</p>
        ) : schemas.length === 0 ? (
          <p class="empty">No schemas registered.</p>
        ) : (
          <ul class="subject-list">
            {schemas.map((s) => (
              <li key={s.subject} class={s.subject === subject ? "selected" : ""}>
                <a
                  href={`/schemas/${encodeURIComponent(s.subject)}`}
                  onClick={(e) => {
                    e.preventDefault();
                    navigate(`/schemas/${encodeURIComponent(s.subject)}`);
                  }}
                >
                  {s.subject}
                </a>{" "}
                <span class="muted">v{s.version}</span>
              </li>
            ))}
          </ul>
        )}
      </div>
      <div class="main-pane">{subject === "" ? <p class="empty">Pick a subject.</p> : <SubjectDetail subject={subject} />}</div>
    </section>
  );
}
