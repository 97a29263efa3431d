import { supervisorNodeOptionsVariable } from './process/supervise';

/**
 * Loaded into foreman by the supervisor (node's --require). foreman has no SIGTERM handler: on
 * Heroku, which sends SIGTERM to every process of the dyno at once, it dies first and its
 * processes' last lines go nowhere (https://devcenter.heroku.com/articles/dynos#shutdown). Here,
 * SIGTERM is passed on to foreman's processes once, and foreman stays to relay their lines until
 * they have gone; it then exits as it does when its processes end.
 */
let passedOn = false;
process.on('SIGTERM', () => {
  if (passedOn) return;
  passedOn = true;
  try {
    // foreman leads its own process group (the supervisor starts it detached).
    process.kill(-process.pid, 'SIGTERM');
  } catch {
    // its processes have gone
  }
});
// foreman's processes must not load this too.
process.env.NODE_OPTIONS = process.env[supervisorNodeOptionsVariable] ?? '';
delete process.env[supervisorNodeOptionsVariable];
if (process.env.NODE_OPTIONS === '') delete process.env.NODE_OPTIONS;
