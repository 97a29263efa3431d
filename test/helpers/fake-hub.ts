import {
  startFakeHub,
  type FakeHub,
  type FakeHubOptions,
} from '../../webapp/simulation/start-fake-hub';

export type { FakeHub };

/** The simulator's fake hub, with the misbehaviours tests need. */
export interface TestHubOptions extends Omit<FakeHubOptions, 'answer'> {
  /** answer this many build requests with 503 before accepting */
  failFirst?: number;
  /** leave this many build requests without an answer before accepting */
  hangFirst?: number;
  /** answer every build request with this status, and build nothing */
  refuseWith?: number;
  /** build nothing for these tags: their push never comes */
  neverBuild?: string[];
  /** build these tags, but lose their push webhooks: only the registry's API shows them */
  loseWebhook?: string[];
  /** the runs or pipelines of these tags fail: their push never comes */
  failBuild?: string[];
}

export function startTestHub(options: TestHubOptions): Promise<FakeHub> {
  const {
    failFirst = 0,
    hangFirst = 0,
    refuseWith,
    neverBuild = [],
    loseWebhook = [],
    failBuild = [],
    ...rest
  } = options;
  return startFakeHub({
    ...rest,
    answer: (call, nth) => {
      if (nth <= hangFirst) return { hang: true };
      if (refuseWith !== undefined) return { status: refuseWith };
      if (nth <= hangFirst + failFirst) return { status: 503 };
      return {
        neverBuild: neverBuild.includes(call.tag),
        loseWebhook: loseWebhook.includes(call.tag),
        fail: failBuild.includes(call.tag),
      };
    },
  });
}
