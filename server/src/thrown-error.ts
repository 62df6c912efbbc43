/** Telling a refusal apart from a failure: what a compile step throws, as a value. */

/**
 * The error of class `type` that `run` throws, or undefined when `run`
 * returns. Any other error is thrown on: it is a failure, not a refusal.
 */
export function thrownError<E extends Error>(type: abstract new (...args: never[]) => E, run: () => unknown): E | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
}
