import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logging/create-logger';
import { readGitHubEvent, type GitHubEvent } from '../github/read-github-event';
import { verifyGitHubSignature } from '../github/verify-github-signature';

/** The path GitHub's webhook deliveries are taken at. */
export const githubRoute = '/github';

/** GitHub sends at most 25 MB; a workflow run or a package is tens of KiB. */
export const githubBodyLimit = 1024 * 1024;

/** What the app made of a verified delivery: the answer's status and what it says. */
export interface GitHubAnswer {
  status: 200 | 202 | 204;
  description: string;
}

export interface GitHubRouteDeps {
  /** GITHUB_WEBHOOK_SECRET; without it the route refuses every delivery */
  secret: string | undefined;
  log: Logger;
  /** acts on what a verified delivery tells */
  deliver(event: Exclude<GitHubEvent, { kind: 'ignored' }>): GitHubAnswer | Promise<GitHubAnswer>;
}

/**
 * POST /github: GitHub's webhook deliveries of workflow runs and container packages, believed
 * only when X-Hub-Signature-256 is the HMAC of the raw body with GITHUB_WEBHOOK_SECRET. The
 * route has its own body parser, since the signature is over the bytes as they came.
 */
export function addGitHubRoute(app: FastifyInstance, deps: GitHubRouteDeps): void {
  const { log, secret } = deps;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: githubBodyLimit },
      (_r, body, done) => done(null, body),
    );
    scope.post(githubRoute, async (request, reply) => {
      const refuse = (status: number, description: string) => {
        log.warn({ status, reason: description }, 'GitHub delivery refused');
        return reply.code(status).send({ state: 'error', description });
      };
      if (secret === undefined) {
        return refuse(
          404,
          'GitHub deliveries are not taken here: set GITHUB_WEBHOOK_SECRET, and the same secret in the webhook on GitHub',
        );
      }
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!verifyGitHubSignature(secret, body, request.headers['x-hub-signature-256'])) {
        return refuse(
          401,
          'the signature (X-Hub-Signature-256) is missing or is not that of GITHUB_WEBHOOK_SECRET: nothing was read',
        );
      }
      const name = request.headers['x-github-event'];
      const type = String(request.headers['content-type'] ?? '');
      let payload: unknown;
      try {
        // A webhook may be set to send a form with the JSON in its `payload` field.
        const text = body.toString('utf8');
        payload = JSON.parse(
          type.startsWith('application/x-www-form-urlencoded')
            ? (new URLSearchParams(text).get('payload') ?? '')
            : text,
        );
      } catch {
        return refuse(
          400,
          "the body is not JSON (set the webhook's content type to application/json)",
        );
      }
      const event = readGitHubEvent(typeof name === 'string' ? name : undefined, payload);
      if (event.kind === 'ignored') {
        log.debug({ event: name, why: event.why }, `GitHub delivery ignored: ${event.why}`);
        return reply.code(204).send();
      }
      const answer = await deps.deliver(event);
      log[answer.status === 200 ? 'info' : 'debug'](
        { event: name },
        `GitHub ${String(name)}: ${answer.description}`,
      );
      if (answer.status === 204) return reply.code(204).send();
      return reply.code(answer.status).send({ state: 'success', description: answer.description });
    });
  });
}
