import { prepareTriggers } from '../builds/prepare-triggers';
import { createLogger } from '../process/create-logger';
import { loadConfigOrExit } from '../process/lifecycle';

/** `npm run trigger -- [tag]`: triggers one tag now (default: the first). */
async function main(argv: string[]): Promise<void> {
  const config = loadConfigOrExit('trigger');
  const log = createLogger('trigger', config.logLevel, undefined, config.logFormat);
  const tag = argv[0] ?? (config.tagSequence[0] as string);
  if (argv.length > 1 || !config.tagSequence.includes(tag)) {
    process.stderr.write(
      `usage: trigger [tag]\n'${argv.join(' ')}' is not one tag of TAG_SEQUENCE (${config.tagSequence.join(', ')})\n`,
    );
    process.exit(2);
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
