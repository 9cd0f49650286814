/** Turning anything thrown into text and errors: one place, so every log line reads the same. */

/** The message of an Error, or the thrown value as text. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The thrown value as an Error (the value itself when it already is one). */
export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** `Name: message` of an Error, or the thrown value as text: for internal errors. */
export function describeError(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
