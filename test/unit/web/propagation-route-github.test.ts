import { loadConfig } from '../../../webapp/config';
import { buildTestApp } from '../../helpers/app';

describe('PROPAGATION_ROUTE=/github', () => {
  it('is refused by the config check, naming the setting', async () => {
    let problem: string | undefined;
    try {
      loadConfig({ PROPAGATION_ROUTE: '/github', DOCKERHUB_TRIGGER_TOKEN: 'tok' });
    } catch (err) {
      problem = (err as Error).message;
    }
    if (problem === undefined) {
      // Accepted: show what happens then.
      const t = buildTestApp({ PROPAGATION_ROUTE: '/github' });
      let ready: string | undefined;
      try {
        await t.app.ready();
      } catch (err) {
        ready = (err as Error).message;
      }
      await t.web.close().catch(() => {});
      expect(`config accepted it; server: ${ready ?? 'started'}`).toContain('PROPAGATION_ROUTE');
    } else {
      expect(problem).toContain('PROPAGATION_ROUTE');
    }
  });
});
