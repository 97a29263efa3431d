import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDefaults, envNames } from '../../webapp/config';
import { appDir } from '../../webapp/process/app-info';

const read = (file: string) => readFileSync(join(appDir(), file), 'utf8');

interface AppJson {
  env: Record<string, { description: string; required: boolean; value?: string }>;
  formation: Record<string, { quantity: number }>;
}

describe('app.json, for the Heroku Button', () => {
  const app = JSON.parse(read('app.json')) as AppJson;

  it('declares exactly the variables config.ts reads, but PORT, which Heroku sets', () => {
    expect(Object.keys(app.env).sort()).toEqual(envNames.filter((name) => name !== 'PORT').sort());
  });

  it('gives each one a description and the default of config.ts', () => {
    const defaults = envDefaults();
    for (const [name, entry] of Object.entries(app.env)) {
      expect([name, entry.description.length > 10]).toEqual([name, true]);
      expect([name, entry.value]).toEqual([name, defaults[name]]);
    }
  });

  it('requires the trigger token only, and runs one web dyno', () => {
    const required = Object.entries(app.env).filter(([, entry]) => entry.required);
    expect(required.map(([name]) => name)).toEqual(['DOCKERHUB_TRIGGER_TOKEN']);
    expect(app.formation).toEqual({ web: { quantity: 1, size: 'basic' } });
  });
});

describe('the README', () => {
  const readme = read('README.md');
  const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \| (.*) \| (.*) \|$/gm)];

  it('has a configuration table with every variable config.ts reads, and its default', () => {
    expect(rows.map((row) => row[1]).sort()).toEqual([...envNames].sort());
    const defaults = envDefaults();
    for (const [, name, , shown] of rows) {
      const value = defaults[name as string];
      if (value !== undefined) expect([name, shown]).toEqual([name, `\`${value}\``]);
    }
  });

  it('documents every status code the webhook answers', () => {
    for (const status of ['200', '400', '403', '404', '405', '413', '415', '422']) {
      expect(readme).toMatch(new RegExp(`^\\| ${status} \\|`, 'm'));
    }
  });

  it('has the Heroku button and the Quick start commands', () => {
    expect(readme).toContain('https://www.herokucdn.com/deploy/button.svg');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
