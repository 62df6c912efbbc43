/** What the server tells the page about itself (`/config.json`). */
export interface PageConfig {
  /** Base URL of a Jaeger UI; empty for none. */
  readonly jaegerUrl: string;
  /** The server's version. */
  readonly version: string;
}

/** Reads the page configuration; a server that does not answer gives the defaults. */
export async function loadPageConfig(): Promise<PageConfig> {
  try {
    const response = await fetch("/config.json");
    if (response.ok) return (await response.json()) as PageConfig;
  } catch {
    // Shown as no trace links and an unknown version.
  }
  return { jaegerUrl: "", version: "" };
}
