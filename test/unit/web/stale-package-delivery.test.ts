import { buildTestApp, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import {
  answerGhcrDigests,
  digestOf,
  registryPackagePayload,
  signBody,
  writeGhcrLine,
} from '../../helpers/github';

const secret = 'gh-hook-secret-5f2c1e9a7b3d4c60';
const graph = writeGhcrLine(['base', 'svc']);
const SVC = 'ghcr.io/acme/svc:latest';

describe('a registry_package delivery of an older digest', () => {
  it('is no push: nothing is built again for it', async () => {
    const t = buildTestApp({
      GRAPH_FILE: graph,
      GITHUB_WEBHOOK_SECRET: secret,
      GH_BUILD_TOKEN: 'ghp_testToken0123456789',
    });
    const deliver = (digest: string) => {
      const text = JSON.stringify(
        registryPackagePayload({ name: 'base', digest, registryUrl: 'https://ghcr.io/acme' }),
      );
      return t.app.inject({
        method: 'POST',
        url: '/github',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'registry_package',
          'x-hub-signature-256': signBody(secret, text),
        },
        payload: text,
      });
    };
    const triggersOfSvc = () => t.triggered.filter((tag) => tag === SVC).length;
    // A delivery is checked against the registry after it is answered: wait for that read.
    const deliverAndRead = async (digest: string) => {
      const before = heads.length;
      const answer = await deliver(digest);
      await eventually(() => heads.length > before, 'the registry read the delivery prompts');
      await flush();
      return answer;
    };
    // ghcr.io holds `current` as base's digest (svc: none yet); read every RECONCILE_INTERVAL.
    let current = digestOf('base 0');
    const heads = answerGhcrDigests(t.registry, (name) => (name === 'base' ? current : undefined));
    t.web.start();
    await eventually(() => heads.length >= 2, 'the first look at the registry');
    await flush();
    // Build 1 of base published D1: svc is built once.
    current = digestOf('base 1');
    expect((await deliverAndRead(digestOf('base 1'))).statusCode).toBe(200);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => triggersOfSvc() === 1, 'svc built after base 1');
    // An hour later build 2 of base published D2: svc is built a second time (right).
    t.timers.advance(3600_000);
    current = digestOf('base 2');
    expect((await deliverAndRead(digestOf('base 2'))).statusCode).toBe(200);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => triggersOfSvc() === 2, 'svc built after base 2');
    // An hour later the delivery of build 1 comes again (redelivered): it is no new push.
    t.timers.advance(3600_000);
    await deliver(digestOf('base 1'));
    await flush();
    for (let i = 0; i < 5; i++) {
      t.timers.advance(t.config.propagationDelay);
      await flush();
    }
    // Nothing was pushed: svc must not be built a third time...
    const afterRedelivery = triggersOfSvc();
    // ...nor a fourth when the next look reads D2, which the registry held all along.
    const before = heads.length;
    t.timers.advance(t.config.reconcileInterval);
    await eventually(() => heads.length >= before + 2, 'the next look at the registry');
    for (let i = 0; i < 5; i++) {
      t.timers.advance(t.config.propagationDelay);
      await flush();
    }
    const afterLook = triggersOfSvc();
    await t.web.close();
    expect({ afterRedelivery, afterLook }).toEqual({ afterRedelivery: 2, afterLook: 2 });
  });
});
