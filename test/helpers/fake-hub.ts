import {
  startFakeHub,
  type FakeHub as SimulatedHub,
  type FakeHubOptions,
} from '../../webapp/simulation/start-fake-hub';
import { createTestRegistry, type TestRegistryState } from './fake-registry';

/** The simulation's fake hub, with the misbehaviours tests need. */
export interface FakeHub extends SimulatedHub {
  /** fails and asks for logins on demand */
  registry: TestRegistryState;
  /** the reads of runs and pipelines, with the status each was answered */
  runReads: { path: string; status: number }[];
}

export interface TestHubOptions extends Omit<FakeHubOptions, 'intercept' | 'registry'> {
  /** answer this many build requests with 503 before accepting */
  failFirst?: number;
  /** leave this many build requests without an answer before accepting */
  hangFirst?: number;
  /** answer every build request with this status, and build nothing */
  refuseWith?: number;
  /** build nothing for these tags (or repository:tag): their push never comes */
  neverBuild?: string[];
  /** build these tags, but lose their push webhooks: only the registry's API shows them (event `lost`) */
  loseWebhook?: string[];
  /** the runs or pipelines of these tags fail: their push never comes */
  failBuild?: string[];
  /**
   * What GitHub does with `return_run_details`: names the run (200, the default), ignores the
   * field (204, a server from before February 2026), or refuses it (422)
   */
  githubRunDetails?: 'answer' | 'ignore' | 'refuse';
}

const RUN_READ =
  /^\/(repos\/[^/]+\/[^/]+\/actions\/runs|api\/v4\/projects\/[^/]+\/pipelines)\/\d+$/;

export async function startTestHub(options: TestHubOptions): Promise<FakeHub> {
  const {
    failFirst = 0,
    hangFirst = 0,
    refuseWith,
    neverBuild = [],
    loseWebhook = [],
    failBuild = [],
    githubRunDetails = 'answer',
    ...rest
  } = options;
  const registry = createTestRegistry();
  const runReads: FakeHub['runReads'] = [];
  let requests = 0;
  const started = await startFakeHub({
    ...rest,
    registry,
    intercept: (request, res) => {
      const path = request.path.split('?')[0] as string;
      if (request.build === undefined) {
        if (request.method === 'GET' && RUN_READ.test(path)) {
          res.once('finish', () => runReads.push({ path, status: res.statusCode }));
        }
        return undefined;
      }
      requests += 1;
      if (requests <= hangFirst) return { taken: true };
      if (refuseWith !== undefined) return { status: refuseWith };
      if (requests <= hangFirst + failFirst) return { status: 503 };
      const { api, tag, repository } = request.build;
      const named = (list: string[]) => list.includes(tag) || list.includes(`${repository}:${tag}`);
      const details = api === 'github' && askedRunDetails(request.body);
      const status =
        !details || githubRunDetails === 'answer'
          ? {}
          : { status: githubRunDetails === 'refuse' ? 422 : 204 };
      if (named(failBuild)) return { ...status, fails: true };
      if (named(neverBuild)) return { ...status, onBuilt: () => undefined };
      if (named(loseWebhook)) {
        return {
          ...status,
          onBuilt: () => {
            const [user, repo] = repository.split('/') as [string, string];
            registry.recordPush(user, repo, tag);
            hub.emit('lost', tag);
          },
        };
      }
      return status;
    },
  });
  const hub: FakeHub = Object.assign(started, { registry, runReads });
  return hub;
}

function askedRunDetails(body: string): boolean {
  try {
    return (JSON.parse(body) as { return_run_details?: unknown }).return_run_details === true;
  } catch {
    return false;
  }
}
