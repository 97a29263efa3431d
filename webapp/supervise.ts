import { supervise } from './process/supervise';

/** The Procfile's `web:` process: foreman and what it runs, kept as one unit for the host. */
if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: supervise <command> [args...]\n');
    process.exit(2);
  }
  // foreman's processes write to pipes: tell them a person is watching this terminal.
  const env =
    process.stdout.isTTY && (process.env.LOG_FORMAT ?? 'auto') === 'auto'
      ? { ...process.env, LOG_FORMAT: 'pretty' }
      : process.env;
  // foreman's own entry, so that `nf` needs no node_modules/.bin on PATH (a plain shell, Docker).
  // foreman calls util._extend, which Node 22+ warns about at each start; its processes do not.
  const [file, argv] =
    command === 'nf'
      ? [process.execPath, ['--disable-warning=DEP0060', require.resolve('foreman/nf.js'), ...args]]
      : [command, args];
  void supervise(file, argv, env).then((code) => {
    if (code !== 0) process.stderr.write(`a process of the dyno failed: exiting ${code}\n`);
    process.exit(code);
  });
}
