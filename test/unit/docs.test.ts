import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envDefaults, envNames } from '../../webapp/config';
import { appDir } from '../../webapp/deployment/app-info';

const read = (file: string) => readFileSync(join(appDir(), file), 'utf8');
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

interface AppJson {
  env: Record<string, { description: string; required: boolean; value?: string }>;
  formation: Record<string, { quantity: number }>;
}

describe('app.json, for the Heroku Button', () => {
  const app = JSON.parse(read('app.json')) as AppJson;

  it('declares exactly the variables config.ts reads, but PORT, which Heroku sets', () => {
    expect(Object.keys(app.env).sort()).toEqual(envNames.filter((name) => name !== 'PORT').sort());
  });

  it('gives each one a description, which names the default of config.ts', () => {
    const defaults = envDefaults();
    for (const [name, entry] of Object.entries(app.env)) {
      expect([name, entry.description.length > 10]).toEqual([name, true]);
      const value = defaults[name];
      if (value !== undefined && entry.value === undefined && !entry.required) {
        expect([name, entry.description]).toEqual([
          name,
          expect.stringMatching(new RegExp(`Default, from webapp/config.ts: ${escape(value)}$`)),
        ]);
      }
    }
  });

  // A config var overrides webapp/config.ts for good: pre-fill only what a first deploy needs.
  it('pre-fills only the tag sequence, with the default of config.ts', () => {
    const prefilled = Object.entries(app.env).filter(([, entry]) => entry.value !== undefined);
    expect(prefilled).toEqual([
      ['TAG_SEQUENCE', expect.objectContaining({ value: envDefaults().TAG_SEQUENCE })],
    ]);
  });

  it("requires the repository, without a default that names someone else's", () => {
    const required = Object.entries(app.env).filter(([, entry]) => entry.required);
    expect(required.map(([name]) => name)).toEqual(['DOCKERHUB_USER', 'DOCKERHUB_REPO']);
    expect(required.map(([, entry]) => entry.value)).toEqual([undefined, undefined]);
  });

  it('runs one web dyno', () => {
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
