/**
 * Event-type globs of the flow monitor's rules: `*` matches any run of
 * characters, dots included, so `*.completed` matches
 * `agent.task.completed` and `order.completed`.
 */

/** Compiles globs into one predicate. */
export function compileTypeGlobs(globs: readonly string[]): (type: string) => boolean {
  const parts = globs
    .map((g) => g.trim())
    .filter((g) => g !== "")
    .map((g) => g.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*"));
  if (parts.length === 0) return () => false;
  const regex = new RegExp(`^(?:${parts.join("|")})$`);
  return (type) => regex.test(type);
}
