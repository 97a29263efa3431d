import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '../lifecycle/load-config-or-exit';
import { simulateChain } from '../simulation/simulate-chain';

/**
 * `npm run simulate`: the whole chain or graph with this configuration, against fakes of the
 * build services and registries on loopback.
 */
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
      [
        usage,
        'Runs the whole chain (or graph file) with this configuration against fakes on loopback',
        "of the build services (GitHub Actions, GitLab CI, Docker Hub's Automated Builds) and",
        "of the images' registries (GHCR, Quay, Docker Hub or any other); sends nothing",
        'anywhere else.',
        '--delay: seconds from a push to the next trigger; --build-time: seconds a fake build',
        'takes. Both default to 1.',
        '',
      ].join('\n'),
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
  // A reader that goes away (`| head`) ends the printing, not the simulation: it still stops
  // the processes it started.
  let reading = true;
  process.stdout.on('error', () => (reading = false));
  const print = (line: string) => {
    if (reading) process.stdout.write(`${line}\n`);
  };
  void simulateChain(config, process.env, { delay, buildTime, print }).then((failure) =>
    process.exit(failure === undefined ? 0 : 1),
  );
}

if (require.main === module) main();
