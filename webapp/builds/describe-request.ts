import { redact } from '../secrets/redact';
import type { BuildTarget } from './targets/build-target';

/**
 * The request that would start the build of `tag`, as text (method and URL, headers, body),
 * with every secret of the target shown as `***`.
 */
export async function describeRequest(target: BuildTarget, tag: string): Promise<string> {
  const { url, headers, body } = await target.request(tag);
  const lines = [
    `POST ${url}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    '',
    body,
  ];
  return redact(lines.join('\n'), target.secrets);
}
