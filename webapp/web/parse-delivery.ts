import { z } from 'zod';
import { maskUrl } from '../secrets/mask-url';

/** A Docker Hub push webhook that is ours and names a tag of the sequence. */
export interface Delivery {
  tag: string;
  /** identifies the push: repeated deliveries of one push carry the same value */
  pushedAt: string | undefined;
}

export type Parsed =
  { ok: true; delivery: Delivery } | { ok: false; status: 400 | 403 | 422; description: string };

export interface DeliveryRules {
  hubUrl: string;
  userName: string;
  repoName: string;
  tagSequence: readonly string[];
  /** deliveries without callback_url are accepted only when a shared secret vouches for them */
  callbackRequired: boolean;
}

// Every field but push_data.tag and repository.repo_name is optional and may be null:
// https://docs.docker.com/docker-hub/repos/manage/webhooks/
const payload = z.object(
  {
    callback_url: z.string({ error: 'callback_url must be a string' }).nullish(),
    push_data: z.object(
      {
        tag: z.string({ error: 'push_data.tag must be a string' }),
        pushed_at: z
          .union(
            [z.number(), z.string().regex(/^\d+(\.\d+)?$/, 'push_data.pushed_at must be a number')],
            { error: 'push_data.pushed_at must be a number' },
          )
          .nullish(),
      },
      { error: 'push_data must be an object' },
    ),
    repository: z
      .object(
        { repo_name: z.string({ error: 'repository.repo_name must be a string' }).nullish() },
        { error: 'repository must be an object' },
      )
      .nullish(),
  },
  { error: 'the body must be a JSON object' },
);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Compiles the checks once; the returned function is called per delivery. */
export function createDeliveryParser(rules: DeliveryRules): (body: unknown) => Parsed {
  const repoName = `${rules.userName}/${rules.repoName}`;
  // JavaScript's `$` (without the m flag) matches only at the very end: no trailing newline.
  const callback = new RegExp(
    `^${escapeRegExp(rules.hubUrl)}/u/${escapeRegExp(rules.userName)}/${escapeRegExp(rules.repoName)}/hook/[0-9A-Za-z]{1,128}/$`,
  );
  const positions = new Map(rules.tagSequence.map((tag, index) => [tag, index]));
  const hub = maskUrl(rules.hubUrl).shown;
  return (body) => {
    const result = payload.safeParse(body);
    if (!result.success) {
      return { ok: false, status: 400, description: result.error.issues[0]?.message ?? 'invalid' };
    }
    const { callback_url: callbackUrl, push_data: pushData, repository } = result.data;
    if (callbackUrl == null) {
      if (rules.callbackRequired) {
        return { ok: false, status: 400, description: 'callback_url is missing' };
      }
    } else if (!callback.test(callbackUrl)) {
      return {
        ok: false,
        status: 403,
        description: `callback_url is not a webhook of ${repoName} on ${hub}`,
      };
    }
    if (repository?.repo_name != null && repository.repo_name !== repoName) {
      return { ok: false, status: 403, description: `repository.repo_name is not ${repoName}` };
    }
    if (!positions.has(pushData.tag)) {
      return {
        ok: false,
        status: 422,
        description: `push_data.tag ${quote(pushData.tag)} is not in the tag sequence`,
      };
    }
    const pushedAt = pushData.pushed_at == null ? undefined : String(pushData.pushed_at);
    return { ok: true, delivery: { tag: pushData.tag, pushedAt } };
  };
}

/** The tag as JSON (control characters escaped), cut short: never echo a huge value back. */
function quote(tag: string): string {
  return JSON.stringify(tag.length > 64 ? `${tag.slice(0, 64)}…` : tag);
}
