import { z } from 'zod';
import { maskUrl } from '../secrets/mask-url';

/** A Docker Hub push webhook that is ours and names a node of the graph. */
export interface Delivery {
  /** the node it announces a push of: its tag in a line, its image in a graph file */
  tag: string;
  /** identifies the push: repeated deliveries of one push carry the same value */
  pushedAt: string | undefined;
}

export type Parsed =
  { ok: true; delivery: Delivery } | { ok: false; status: 400 | 403 | 422; description: string };

export interface DeliveryRules {
  hubUrl: string;
  /** every node, with the Docker Hub tag that holds its image */
  nodes: readonly { id: string; namespace: string; repository: string; tag: string }[];
  /** a line of tags says so in its refusals (TAG_SEQUENCE); a graph names its file */
  graphName: string | null;
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
  const repositories = new Map<string, Map<string, string>>();
  for (const node of rules.nodes) {
    const name = `${node.namespace}/${node.repository}`;
    const tags = repositories.get(name) ?? new Map<string, string>();
    tags.set(node.tag, node.id);
    repositories.set(name, tags);
  }
  const names = [...repositories.keys()];
  const only = names.length === 1 ? names[0] : undefined;
  const described = only ?? `a repository of ${rules.graphName ?? 'the graph'}`;
  // JavaScript's `$` (without the m flag) matches only at the very end: no trailing newline.
  const callback = new RegExp(
    `^${escapeRegExp(rules.hubUrl)}/u/([^/\\s]+)/([^/\\s]+)/hook/[0-9A-Za-z]{1,128}/$`,
  );
  const hub = maskUrl(rules.hubUrl).shown;
  return (body) => {
    const result = payload.safeParse(body);
    if (!result.success) {
      return { ok: false, status: 400, description: result.error.issues[0]?.message ?? 'invalid' };
    }
    const { callback_url: callbackUrl, push_data: pushData, repository } = result.data;
    let fromCallback: string | undefined;
    if (callbackUrl == null) {
      if (rules.callbackRequired) {
        return { ok: false, status: 400, description: 'callback_url is missing' };
      }
    } else {
      const match = callback.exec(callbackUrl);
      fromCallback = match === null ? undefined : `${match[1]}/${match[2]}`;
      if (fromCallback === undefined || !repositories.has(fromCallback)) {
        return {
          ok: false,
          status: 403,
          description: `callback_url is not a webhook of ${described} on ${hub}`,
        };
      }
    }
    const named = repository?.repo_name ?? undefined;
    if (named != null && (!repositories.has(named) || (fromCallback ?? named) !== named)) {
      return {
        ok: false,
        status: 403,
        description:
          only === undefined
            ? `repository.repo_name is not ${fromCallback ?? described}`
            : `repository.repo_name is not ${only}`,
      };
    }
    const from = fromCallback ?? named ?? only;
    if (from === undefined) {
      return {
        ok: false,
        status: 400,
        description: 'repository.repo_name is missing: the graph has several repositories',
      };
    }
    const id = repositories.get(from)?.get(pushData.tag);
    if (id === undefined) {
      return {
        ok: false,
        status: 422,
        description:
          rules.graphName === null
            ? `push_data.tag ${quote(pushData.tag)} is not in the tag sequence`
            : `push_data.tag ${quote(pushData.tag)} of ${from} is not an image of ${rules.graphName}`,
      };
    }
    const pushedAt = pushData.pushed_at == null ? undefined : String(pushData.pushed_at);
    return { ok: true, delivery: { tag: id, pushedAt } };
  };
}

/** The tag as JSON (control characters escaped), cut short: never echo a huge value back. */
function quote(tag: string): string {
  return JSON.stringify(tag.length > 64 ? `${tag.slice(0, 64)}…` : tag);
}
