/**
 * Runs `each` on every item, in their order, with at most `limit` running at once: a long list
 * must not open a connection per item. Resolves when every one has ended.
 */
export async function forEachAtMost<T>(
  items: readonly T[],
  limit: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await each(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
