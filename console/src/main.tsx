/** The console page: a header with the views, the signed-in principal and the token box, and the current view. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { session, type Session } from "./access.js";
import { PageConfigContext } from "./components/page-config-context.js";
import { onTokenChange, setToken, token } from "./credentials.js";
import { loadPageConfig, type PageConfig } from "./page-config.js";
import { navigate, usePath } from "./router.js";
import { startSampling } from "./stats-sampler.js";
import { FlowsView } from "./views/flows-view.js";
import { GroupsView } from "./views/groups-view.js";
import { HistoryView } from "./views/history-view.js";
import { LiveView } from "./views/live-view.js";
import { OverviewView } from "./views/overview-view.js";
import { SchemasView } from "./views/schemas-view.js";
import "./style.css";

interface ViewEntry {
  readonly path: string;
  readonly title: string;
  /** Renders the view; `rest` is the decoded path after the view's own. */
  readonly view: (rest: string) => preact.JSX.Element;
}

const VIEWS: readonly ViewEntry[] = [
  { path: "/overview", title: "Overview", view: () => <OverviewView /> },
  { path: "/live", title: "Live", view: () => <LiveView /> },
  { path: "/history", title: "History", view: () => <HistoryView /> },
  { path: "/flows", title: "Flows", view: (rest) => <FlowsView correlationId={rest} /> },
  { path: "/schemas", title: "Schemas", view: (rest) => <SchemasView subject={rest} /> },
  { path: "/groups", title: "Groups", view: (rest) => <GroupsView selectedName={rest} /> },
];

function TokenBox() {
  const [value, setValue] = useState(token());
  const [who, setWho] = useState<Session | undefined>(undefined);
  useEffect(() => onTokenChange(() => setValue(token())), []);
  useEffect(() => {
    void session([]).then(setWho);
  }, [value]);
  return (
    <form
      class="token"
      onSubmit={(e) => {
        e.preventDefault();
        const input = e.currentTarget.elements.namedItem("token") as HTMLInputElement;
        setToken(input.value.trim());
        location.reload();
      }}
    >
      {who !== undefined && who.authEnabled && (
        <span class="principal" data-testid="principal">
          {who.principal === "" ? "not signed in" : `signed in as ${who.principal}`}
        </span>
      )}
      {(who === undefined || who.authEnabled) && (
        <>
          <input name="token" type="password" placeholder="bearer token" value={value} autoComplete="off" aria-label="bearer token" />
          <button type="submit">{value === "" ? "Sign in" : "Change"}</button>
        </>
      )}
    </form>
  );
}

function App({ config }: { config: PageConfig }) {
  const path = usePath();
  const current = VIEWS.find((v) => path === v.path || path.startsWith(`${v.path}/`)) ?? (VIEWS[0] as ViewEntry);
  let rest = "";
  try {
    rest = decodeURIComponent(path.slice(current.path.length + 1));
  } catch {
    rest = "";
  }
  useEffect(() => {
    document.title = `${current.title} · protobus console`;
  }, [current]);
  return (
    <PageConfigContext.Provider value={config}>
      <header class="top">
        <strong class="brand">protobus</strong>
        <nav>
          {VIEWS.map((v) => (
            <a
              key={v.path}
              href={v.path}
              class={v === current ? "active" : ""}
              onClick={(e) => {
                e.preventDefault();
                navigate(v.path);
              }}
            >
              {v.title}
            </a>
          ))}
        </nav>
        <span class="version">{config.version}</span>
        <TokenBox />
      </header>
      <main key={current.path}>{current.view(rest)}</main>
    </PageConfigContext.Provider>
  );
}

void loadPageConfig().then((config) => {
  startSampling();
  const root = document.getElementById("app");
  if (root !== null) render(<App config={config} />, root);
});
