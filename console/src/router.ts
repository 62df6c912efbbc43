/** The page's own routes: the path names the view (`/live`, `/schemas/agent.task.created`). */
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

/** Goes to `path` without a reload. */
export function navigate(path: string): void {
  if (path === location.pathname) return;
  history.pushState(null, "", path);
  for (const listener of listeners) listener();
}

/** The current path, re-rendering on navigation. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return path;
}
