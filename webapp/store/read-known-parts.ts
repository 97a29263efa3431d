import { z } from 'zod';
import type { SavedState } from './state-store';

const knownParts = z.object({
  pushes: z.record(z.string(), z.number()).default({}),
  upstream: z.record(z.string(), z.string()).default({}),
  digests: z.record(z.string(), z.array(z.string()).max(64)).default({}),
});

/**
 * The state's parts beside the journal, read from what a store kept (a part it lacks is
 * empty); undefined when it is not what this release writes.
 */
export function readKnownParts(value: unknown): Omit<SavedState, 'journal'> | undefined {
  const read = knownParts.safeParse(value);
  return read.success ? read.data : undefined;
}
