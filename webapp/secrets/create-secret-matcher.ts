import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Which of `secrets` a text is: its index, or -1. Digests make every comparison take the same
 * time whatever the lengths, and every secret is compared, so the time tells nothing either.
 */
export function createSecretMatcher(secrets: readonly string[]): (given: string) => number {
  const digests = secrets.map(digest);
  return (given) => {
    const candidate = digest(given);
    let found = -1;
    digests.forEach((secretDigest, index) => {
      if (timingSafeEqual(candidate, secretDigest) && found < 0) found = index;
    });
    return found;
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
