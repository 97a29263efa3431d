import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../lifecycle/load-config-or-exit';
import { simulateChain } from '../simulation/simulate-chain';

/** `npm run simulate`: the whole chain with this configuration, against a fake hub. */
function main(): void {
  const usage = 'usage: simulate [--delay seconds] [--build-time seconds]';
  let values: { delay?: string; 'build-time'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        delay: { type: 'string' },
        'build-time': { type: 'string' },
        help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${usage}\n`);
    process.exit(2);
  }
  if (values.help === true) {
    process.stdout.write(
      `${usage}\nRuns the whole chain with this configuration against a fake Docker Hub on\nloopback; sends nothing anywhere else. Both take seconds (default 1).\n`,
    );
    process.exit(0);
  }
  const delay = Number(values.delay ?? '1');
  const buildTime = Number(values['build-time'] ?? '1');
  if (!(delay >= 0 && delay <= 600) || !(buildTime >= 0 && buildTime <= 600)) {
    process.stderr.write(`--delay and --build-time take seconds from 0 to 600\n${usage}\n`);
    process.exit(2);
  }
  const config = loadConfigOrExit('simulate');
  const print = (line: string) => process.stdout.write(`${line}\n`);
  void simulateChain(config, process.env, { delay, buildTime, print }).then((failure) =>
    process.exit(failure === undefined ? 0 : 1),
  );
}

if (require.main === module) main();
