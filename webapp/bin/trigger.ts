import { describeRequest } from '../builds/describe-request';
import { createNodeTargets, prepareTriggers } from '../builds/prepare-triggers';
import type { BuildTarget } from '../builds/targets/build-target';
import { parseImageRef } from '../chain/parse-image-ref';
import type { Config } from '../config';
import { createLogger } from '../logging/create-logger';
import { loadConfigOrExit } from '../lifecycle/load-config-or-exit';

const usage = `usage: npm run trigger -- [--dry-run] [tag]
  tag        a tag of TAG_SEQUENCE (default: the first one); with a graph
             file, one of its images, e.g. acme/base:latest
  --dry-run  print the request that would be sent, secrets as ***, and send nothing
  --help     print this help
`;

interface Command {
  help: boolean;
  dryRun: boolean;
  tags: string[];
  unknown: string[];
}

/** The flags and tags of the command line, in any order. */
function parseArgs(argv: string[]): Command {
  const flags = argv.filter((arg) => arg.startsWith('-'));
  return {
    help: flags.includes('--help') || flags.includes('-h'),
    dryRun: flags.includes('--dry-run'),
    tags: argv.filter((arg) => !arg.startsWith('-')),
    unknown: flags.filter((flag) => !['--help', '-h', '--dry-run'].includes(flag)),
  };
}

/** `npm run trigger -- [--dry-run] [tag]`: triggers one node now (a line's default: its first). */
async function main(argv: string[]): Promise<void> {
  const command = parseArgs(argv);
  if (command.unknown.length > 0) {
    process.stderr.write(`unknown option: ${command.unknown.join(' ')}\n${usage}`);
    process.exit(2);
  }
  if (command.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const config = loadConfigOrExit('trigger');
  const log = createLogger('trigger', config.logLevel, config.logFormat);
  for (const notice of config.notices) log.warn(notice);
  const { graph } = config;
  const tag = findNode(config, command.tags);
  if (tag === undefined) {
    const known = graph.nodes.map((node) => node.id);
    const shown = known.length > 10 ? `${known.slice(0, 10).join(', ')}, …` : known.join(', ');
    process.stderr.write(
      command.tags.length === 0
        ? `${usage}name the image to trigger: one of ${graph.file} (${shown})\n`
        : `${usage}'${command.tags.join(' ')}' is not one ${graph.file === null ? 'tag of TAG_SEQUENCE' : `image of ${graph.file}`} (${shown})\n`,
    );
    process.exit(2);
  }
  const node = graph.nodes.find((entry) => entry.id === tag) as (typeof graph.nodes)[number];
  if (command.dryRun) {
    const request = await describeRequest(
      createNodeTargets(config).get(tag) as BuildTarget,
      node.image.tag,
    );
    const unset = node.build.dryRun
      ? `${node.build.tokenVariable} is not set: without --dry-run too, nothing would be sent\n`
      : '';
    process.stdout.write(
      `dry run: the request that triggers ${tag}, not sent:\n${request}\n${unset}`,
    );
    process.exit(0);
  }
  const triggers = prepareTriggers(config, log);
  const outcome = await triggers.trigger(tag);
  await triggers.close();
  const { where } = triggers.targetOf(tag);
  process.stdout.write(
    outcome.dryRun
      ? `dry run: would have triggered ${tag} at ${where} (${node.build.tokenVariable} is not set)\n`
      : outcome.ok
        ? `triggered ${tag} at ${where} (HTTP ${outcome.status})\n`
        : `failed to trigger ${tag} at ${where}: ${outcome.reason}\n`,
  );
  process.exit(outcome.ok ? 0 : 1);
}

/** The node the command names: a tag of the line, or any spelling of a graph's image. */
function findNode(config: Config, named: string[]): string | undefined {
  const { nodes, file } = config.graph;
  if (named.length > 1) return undefined;
  const [name] = named;
  if (name === undefined) return file === null ? nodes[0]?.id : undefined;
  if (nodes.some((node) => node.id === name)) return name;
  if (file === null) return undefined;
  try {
    const { display } = parseImageRef(name);
    return nodes.find((node) => node.id === display)?.id;
  } catch {
    return undefined;
  }
}

if (require.main === module) void main(process.argv.slice(2));
