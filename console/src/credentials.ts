/**
 * The bearer token the page sends with every call, kept in this browser's
 * session storage (gone when the tab closes) and set from the header's
 * token box.
 */
const KEY = "protobus.token";
const listeners = new Set<() => void>();

function stored(): string {
  try {
    return sessionStorage.getItem(KEY) ?? "";
  } catch {
    return "";
  }
}

let current = stored();

/** The current token; empty for none. */
export function token(): string {
  return current;
}

/** Replaces the token (empty removes it) and tells the listeners. */
export function setToken(value: string): void {
  try {
    if (value === "") sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, value);
  } catch {
    // Storage refused (private mode): the token lasts until reload.
  }
  current = value;
  for (const listener of listeners) listener();
}

/** Calls `listener` whenever the token changes; returns the unsubscribe. */
export function onTokenChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
