import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { envDefaults, envNames } from '../../webapp/config';
import { appDir } from '../../webapp/deployment/app-info';

const read = (file: string) => readFileSync(join(appDir(), file), 'utf8');
const docs = readdirSync(join(appDir(), 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort();
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

  it('has the Heroku button and the Quick start commands', () => {
    expect(readme).toContain('https://www.herokucdn.com/deploy/button.svg');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });

  it('lists every file of docs/', () => {
    const listed = [...readme.matchAll(/\]\(docs\/([\w-]+\.md)\)/g)].map((match) => match[1]);
    expect([...new Set(listed)].sort()).toEqual(docs);
  });
});

describe('docs/configuration.md', () => {
  const text = read('docs/configuration.md');
  const rows = [...text.matchAll(/^\| `([A-Z_]+)` \| (.*) \| (.*) \|$/gm)];

  it('has a configuration table with every variable config.ts reads, and its default', () => {
    expect(rows.map((row) => row[1]).sort()).toEqual([...envNames].sort());
    const defaults = envDefaults();
    for (const [, name, , shown] of rows) {
      const value = defaults[name as string];
      if (value !== undefined) expect([name, shown]).toEqual([name, `\`${value}\``]);
    }
  });

  it('is the one place with such a table', () => {
    for (const file of ['README.md', ...docs.map((name) => `docs/${name}`)]) {
      if (file === 'docs/configuration.md') continue;
      expect([file, read(file)]).toEqual([file, expect.not.stringMatching(/^\| `[A-Z_]+` \|/m)]);
    }
  });
});

describe('docs/webhook.md', () => {
  const text = read('docs/webhook.md');

  it('documents every status code the webhook answers', () => {
    for (const status of ['200', '400', '403', '404', '405', '413', '415', '422']) {
      expect(text).toMatch(new RegExp(`^\\| ${status} \\|`, 'm'));
    }
  });
});

// GitHub's anchor of a heading: lower case, punctuation dropped, each space a hyphen.
const anchorOf = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_ -]/gu, '')
    .replace(/ /g, '-');

const anchorsOf = (text: string) =>
  new Set(
    [...text.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)].map((match) =>
      anchorOf(match[1] as string),
    ),
  );

describe('the links between the README and docs/', () => {
  const files = ['README.md', ...docs.map((name) => `docs/${name}`)];

  it.each(files)('leads from %s only to files and headings that exist', (file) => {
    const text = read(file).replace(/^```[\s\S]*?^```/gm, '');
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((match) => match[1] as string)
      .filter((link) => !/^[a-z]+:/.test(link));
    for (const link of links) {
      const [path, anchor] = link.split('#') as [string, string | undefined];
      const target = path === '' ? file : join(dirname(file), path);
      expect([link, existsSync(join(appDir(), target))]).toEqual([link, true]);
      if (anchor !== undefined) {
        expect([link, anchorsOf(read(target)).has(anchor)]).toEqual([link, true]);
      }
    }
  });
});
