/** The page configuration, given to every view. */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { PageConfig } from "../page-config.js";

export const PageConfigContext = createContext<PageConfig>({ jaegerUrl: "", version: "" });

/** The page configuration. */
export function usePageConfig(): PageConfig {
  return useContext(PageConfigContext);
}
