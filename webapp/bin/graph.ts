import { describeGraph } from '../builds/describe-graph';
import { loadConfigOrExit } from '../lifecycle/load-config-or-exit';

const usage = `usage: npm run graph
  Checks the graph file (GRAPH_FILE, or chains.yml beside the app) or TAG_SEQUENCE, and prints
  the build order by level with what each image waits for. Starts and sends nothing.
`;

/** `npm run graph`: the configured build order, or the one message that says what is wrong. */
function main(argv: string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return;
  }
  if (argv.length > 0) {
    process.stderr.write(`unknown argument: ${argv.join(' ')}\n${usage}`);
    process.exit(2);
  }
  const config = loadConfigOrExit('graph');
  process.stdout.write(describeGraph(config, new Date()));
}

if (require.main === module) main(process.argv.slice(2));
