/** An answer's body as JSON, or undefined when it is not JSON: the caller's schema says why. */
export function readJsonAnswer(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
