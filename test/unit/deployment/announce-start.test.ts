import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../webapp/config';
import { announceStart } from '../../../webapp/deployment/announce-start';
import { captureLogs } from '../../helpers/logs';

const retiredOn = new Date('2027-04-01T00:00:00Z');
const justBefore = new Date(retiredOn.getTime() - 1);
const later = new Date('2027-09-15T08:30:00Z');

const dir = mkdtempSync(join(tmpdir(), 'dtp-announce-'));
const graphFile = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const github =
  'build: { target: github, repository: acme/images, workflow: build.yml, token_env: GH_TOKEN }';
const mixed = graphFile(
  'mixed.yml',
  `images:
  - image: acme/base:latest
    build: { target: dockerhub }
  - image: ghcr.io/acme/svc:a
    from: [acme/base]
    ${github}
  - image: acme/app:latest
    from: [ghcr.io/acme/svc:a]
    build: { target: dockerhub }
`,
);
const noHub = graphFile(
  'no-hub.yml',
  `images:
  - image: acme/base:latest
    ${github}
  - image: ghcr.io/acme/svc:a
    from: [acme/base]
    ${github}
`,
);

const hubLine = { DOCKERHUB_TRIGGER_TOKEN: 'hub-trigger-token' };
const githubLine = {
  BUILD_TARGET: 'github',
  BUILD_GITHUB_REPOSITORY: 'acme/images',
  BUILD_GITHUB_WORKFLOW: 'build.yml',
  BUILD_GITHUB_TOKEN: 'ghp_announceToken0123456789',
};
const graphEnv = (file: string) => ({
  GRAPH_FILE: file,
  DOCKERHUB_TRIGGER_TOKEN: 'hub-trigger-token',
  GH_TOKEN: 'ghp_announceToken0123456789',
});

/** The warnings the start of process `name` writes on `now` for the settings `env`. */
function warningsAt(env: Record<string, string>, now: Date, name: 'web' | 'clock' = 'web') {
  const config = loadConfig(env);
  const logs = captureLogs(name);
  announceStart(logs.log, name, config, 'https://example.test/***', null, now);
  const lines = logs.entries();
  expect(lines[0]).toMatchObject({
    level: 30,
    msg: expect.stringMatching(new RegExp(`^${name} started: `)),
  });
  return lines.filter((line) => line.level === 40);
}

const retirement = expect.stringContaining('Docker Hub retired Automated Builds on 2027-04-01');

describe('announceStart: the end of Automated Builds', () => {
  it.each([
    ['on the day', retiredOn],
    ['months later', later],
  ])('warns the web process once %s, naming the tags it cannot build', (_when, now) => {
    const warned = warningsAt(hubLine, now);
    expect(warned).toEqual([expect.objectContaining({ msg: retirement, images: 5 })]);
    expect(String(warned[0]?.msg)).toContain('(init, step-1, step-2, step-3, latest)');
    expect(String(warned[0]?.msg)).toContain('build with github or gitlab');
  });

  it('says nothing of it the moment before', () => {
    expect(warningsAt(hubLine, justBefore)).toEqual([]);
  });

  it('says nothing of it at the start of the clock process', () => {
    expect(warningsAt(hubLine, later, 'clock')).toEqual([]);
  });

  it('says nothing of it where no tag is built by Docker Hub', () => {
    expect(warningsAt(githubLine, later)).toEqual([]);
    expect(warningsAt(graphEnv(noHub), later)).toEqual([]);
  });

  it('names only the images of a graph that Docker Hub builds', () => {
    const warned = warningsAt(graphEnv(mixed), later);
    expect(warned).toEqual([expect.objectContaining({ msg: retirement, images: 2 })]);
    const msg = String(warned[0]?.msg);
    expect(msg).toContain('(acme/base:latest, acme/app:latest)');
    expect(msg).not.toContain('ghcr.io/acme/svc:a');
    expect(warningsAt(graphEnv(mixed), justBefore)).toEqual([]);
  });

  it('is said beside the dry run of a tag without its token, not instead of it', () => {
    const warned = warningsAt({}, later);
    expect(warned.map((line) => String(line.msg))).toEqual([
      retirement,
      expect.stringMatching(/^DRY RUN/),
    ]);
  });
});
