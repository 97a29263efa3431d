import { describeRequest } from '../builds/describe-request';
import { prepareTriggers } from '../builds/prepare-triggers';
import { createTarget } from '../builds/targets/create-target';
import { createLogger } from '../logging/create-logger';
import { loadConfigOrExit } from '../lifecycle/load-config-or-exit';

const usage = `usage: npm run trigger -- [--dry-run] [tag]
  tag        a tag of TAG_SEQUENCE (default: the first one)
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

/** `npm run trigger -- [--dry-run] [tag]`: triggers one tag now (default: the first). */
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
  const tag = command.tags[0] ?? (config.tagSequence[0] as string);
  if (command.tags.length > 1 || !config.tagSequence.includes(tag)) {
    process.stderr.write(
      `${usage}'${command.tags.join(' ')}' is not one tag of TAG_SEQUENCE (${config.tagSequence.join(', ')})\n`,
    );
    process.exit(2);
  }
  if (command.dryRun) {
    const request = describeRequest(createTarget(config.target, config), tag);
    const unset = config.dryRun
      ? `${config.tokenVariable} is not set: without --dry-run too, nothing would be sent\n`
      : '';
    process.stdout.write(
      `dry run: the request that triggers ${tag}, not sent:\n${request}\n${unset}`,
    );
    process.exit(0);
  }
  const triggers = prepareTriggers(config, log);
  const outcome = await triggers.trigger(tag);
  await triggers.close();
  const { where } = triggers;
  process.stdout.write(
    outcome.dryRun
      ? `dry run: would have triggered ${tag} at ${where} (${config.tokenVariable} is not set)\n`
      : outcome.ok
        ? `triggered ${tag} at ${where} (HTTP ${outcome.status})\n`
        : `failed to trigger ${tag} at ${where}: ${outcome.reason}\n`,
  );
  process.exit(outcome.ok ? 0 : 1);
}

if (require.main === module) void main(process.argv.slice(2));
