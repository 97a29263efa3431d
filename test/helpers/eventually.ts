/**
 * Resolves once `check` holds, looking again every 20 ms; rejects at the deadline with what it
 * waited for. For state that has no event to wait on (a file, /proc, an HTTP answer).
 */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeout = 10000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited ${timeout} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The first value `read` gives that `accept` takes, looking again as `eventually` does. */
export async function eventuallyRead<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  what: string,
  timeout = 10000,
): Promise<T> {
  let value = await read();
  await eventually(async () => accept((value = await read())), what, timeout);
  return value;
}
