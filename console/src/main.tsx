/** The console page: a header with the views and the token box, and the current view. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { PageConfigContext } from "./components/page-config-context.js";
import { onTokenChange, setToken, token } from "./credentials.js";
import { loadPageConfig, type PageConfig } from "./page-config.js";
import { navigate, usePath } from "./router.js";
import { HistoryView } from "./views/history-view.js";
import { LiveView } from "./views/live-view.js";
import "./style.css";

const VIEWS = [
  { path: "/live", title: "Live", view: () => <LiveView /> },
  { path: "/history", title: "History", view: () => <HistoryView /> },
] as const;

function TokenBox() {
  const [value, setValue] = useState(token());
  useEffect(() => onTokenChange(() => setValue(token())), []);
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
      <input name="token" type="password" placeholder="bearer token" value={value} autoComplete="off" aria-label="bearer token" />
      <button type="submit">{value === "" ? "Sign in" : "Change"}</button>
    </form>
  );
}

function App({ config }: { config: PageConfig }) {
  const path = usePath();
  const current = VIEWS.find((v) => path === v.path || path.startsWith(`${v.path}/`)) ?? VIEWS[0];
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
      <main>{current.view()}</main>
    </PageConfigContext.Provider>
  );
}

void loadPageConfig().then((config) => {
  const root = document.getElementById("app");
  if (root !== null) render(<App config={config} />, root);
});
