import { orderGraph } from '../../../webapp/chain/order-graph';
import { GraphFileError, parseGraphFile } from '../../../webapp/chain/parse-graph-file';
import type { ImageRef } from '../../../webapp/chain/parse-image-ref';

// A stand-in for the builds' reader: any mapping with a target is a build; `bad: x` a problem.
const readBuild = (build: unknown, image: ImageRef) => {
  const fields = build as Record<string, unknown>;
  if (fields.bad !== undefined) return { problems: [`bad: ${String(fields.bad)}`] };
  return { problems: [], build: { ...fields, for: image.display } };
};

const parse = (text: string) => parseGraphFile(text, 'graph.yml', readBuild);

const problemsOf = (text: string): string[] => {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof GraphFileError) return err.problems;
    throw err;
  }
  throw new Error('expected a GraphFileError');
};

const example = `delay: 100              # seconds from the last parent's push to a node's trigger
schedule: "0 0 * * *"   # kick-off of the roots; a cron pattern
timezone: Europe/Paris
images:
  - image: acme/base:latest
    from: [alpine:3.20]
    build: { target: dockerhub, token_env: ACME_BASE_TRIGGER_TOKEN }
  - image: acme/svc:a
    from: [acme/base:latest]
    build: { target: github, repository: acme/svc, workflow: build.yml, ref: main, token_env: GH_TOKEN }
  - image: acme/svc:b
    from: acme/base
    build: { target: github, repository: acme/svc, workflow: build.yml }
  - image: acme/app:latest
    from: [acme/svc:a, acme/svc:b]
    build: { target: gitlab, project: acme/app, ref: main, token_env: APP_TRIGGER_TOKEN }
`;

/** One image item, at two spaces under `images:`. */
const item = (image: string, from: string[] = [], build = '{ target: dockerhub }') =>
  `  - image: ${image}\n    from: [${from.join(', ')}]\n    build: ${build}\n`;

describe('parseGraphFile', () => {
  it('reads the example: its timing, its images in order, their parents and builds', () => {
    const graph = parse(example);
    expect(graph).toMatchObject({ delay: 100, schedule: '0 0 * * *', timezone: 'Europe/Paris' });
    expect(graph.images.map(({ image, line }) => [image.display, line])).toEqual([
      ['acme/base:latest', 5],
      ['acme/svc:a', 8],
      ['acme/svc:b', 11],
      ['acme/app:latest', 14],
    ]);
    expect(graph.images[0]?.from.map((parent) => parent.display)).toEqual(['library/alpine:3.20']);
    expect(graph.images[2]?.from.map((parent) => parent.display)).toEqual(['acme/base:latest']);
    expect(graph.images[1]?.build).toEqual({
      target: 'github',
      repository: 'acme/svc',
      workflow: 'build.yml',
      ref: 'main',
      token_env: 'GH_TOKEN',
      for: 'acme/svc:a',
    });

    const nodes = new Set(graph.images.map(({ image }) => image.display));
    const upstream = graph.images
      .flatMap(({ from }) => from.map((parent) => parent.display))
      .filter((id) => !nodes.has(id));
    expect(upstream).toEqual(['library/alpine:3.20']);
    const order = orderGraph(
      graph.images.map(({ image, from }) => ({
        id: image.display,
        parents: from.map((parent) => parent.display),
      })),
    );
    expect(order).toEqual({
      ok: true,
      levels: [['acme/base:latest'], ['acme/svc:a', 'acme/svc:b'], ['acme/app:latest']],
    });
  });

  it('reads JSON, and leaves out what is not given', () => {
    const json = JSON.stringify({
      images: [
        { image: 'acme/base', build: { target: 'dockerhub' } },
        { image: 'acme/top:1', from: ['acme/base:latest'], build: { target: 'dockerhub' } },
      ],
    });
    const graph = parse(json);
    expect(Object.keys(graph)).toEqual(['images']);
    expect(graph.images.map(({ image, from }) => [image.display, from.length])).toEqual([
      ['acme/base:latest', 0],
      ['acme/top:1', 1],
    ]);
  });

  it('names a syntax error with its line, and the message holds every problem', () => {
    const text = `images:\n${item('acme/a')}  - image: [acme/b\n`;
    let error: unknown;
    try {
      parse(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(GraphFileError);
    const { problems, message } = error as GraphFileError;
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.every((problem) => /^line \d+: /.test(problem))).toBe(true);
    expect(problems[0]).toMatch(/^line [56]: /);
    expect(message).toBe(
      `graph.yml: the graph file has ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  });

  it('names a field given twice', () => {
    expect(problemsOf(`images:\n${item('acme/a')}images: []\n`)).toEqual([
      "line 5: 'images' is given twice",
    ]);
  });

  it('names an unknown field at each level, with the allowed ones', () => {
    const text = `image: acme/a\nimages:\n${item('acme/a', [], '{ target: dockerhub, bad: field }')}    tags: [x]\n`;
    expect(problemsOf(text)).toEqual([
      "line 1: unknown field 'image': allowed are delay, schedule, timezone, images",
      "line 6: unknown field 'tags' in an image: allowed are image, from, build",
      'line 5: bad: field',
    ]);
  });

  it('needs images, and each image its reference and build', () => {
    expect(problemsOf('delay: 5\n')).toEqual([
      'line 1: images: is required, a list of the images to build',
    ]);
    expect(problemsOf('images: []\n')).toEqual([
      'line 1: images: must be a list of at least one image',
    ]);
    expect(problemsOf('[1, 2]\n')).toEqual([
      'line 1: the file must be a mapping of delay, schedule, timezone, images',
    ]);
    expect(problemsOf('')).toHaveLength(1);
    expect(
      problemsOf(
        'images:\n  - from: [acme/a]\n    build: { target: dockerhub }\n  - image: acme/b\n  - acme/c\n',
      ),
    ).toEqual([
      "line 2: an image needs 'image': its namespace/repository:tag",
      "line 4: an image needs 'build': how it is built, with a target",
      'line 5: each image must be a mapping of image, from, build',
    ]);
    expect(problemsOf(`images:\n  - image: acme/a\n    build: dockerhub\n`)).toEqual([
      'line 3: build: must be a mapping with a target',
    ]);
  });

  it('refuses a bad image reference with why', () => {
    expect(problemsOf(`images:\n${item('Acme/a')}`)).toEqual([
      "line 2: image: 'Acme/a' is not an image reference: 'Acme' has uppercase letters",
    ]);
  });

  it('names a node listed twice, with both lines, however it is spelt', () => {
    expect(problemsOf(`images:\n${item('alpine:3.20')}${item('library/alpine:3.20')}`)).toEqual([
      'line 5: library/alpine:3.20 is listed twice: on line 2 and line 5',
    ]);
  });

  it('refuses a parent that is no image reference, itself, or one named twice', () => {
    expect(
      problemsOf(
        `images:\n${item('acme/a', ['acme/a:latest'])}${item('acme/b', ['acme/a', 'acme/a:latest', 'ghcr.io/x/Y'])}`,
      ),
    ).toEqual([
      'line 3: from: acme/a:latest cannot be built from itself',
      'line 6: from: acme/a:latest is named twice',
      "line 6: from: 'ghcr.io/x/Y' is neither a node nor a valid image reference: 'Y' has uppercase letters",
    ]);
    expect(problemsOf(`images:\n  - image: acme/a\n    from: [[x]]\n    build: {}\n`)).toEqual([
      'line 3: from: must be an image reference or a list of them',
    ]);
  });

  it('names a cycle of three in build order, at the line of its first node', () => {
    const text = `images:\n${item('acme/root')}${item('acme/a', ['acme/c'])}${item('acme/b', ['acme/a', 'acme/root'])}${item('acme/c', ['acme/b'])}`;
    expect(problemsOf(text)).toEqual([
      'line 5: the images build each other in a cycle: acme/a:latest -> acme/b:latest -> acme/c:latest -> acme/a:latest',
    ]);
  });

  it('refuses a delay out of range, a bad schedule and a bad time zone', () => {
    const images = `images:\n${item('acme/a')}`;
    expect(problemsOf(`delay: 86401\n${images}`)).toEqual([
      'line 1: delay: must be a number of seconds from 0 to 86400',
    ]);
    expect(problemsOf(`delay: -1\n${images}`)).toHaveLength(1);
    expect(problemsOf(`delay: "100"\n${images}`)).toHaveLength(1);
    expect(parse(`delay: 86400\n${images}`).delay).toBe(86400);
    expect(problemsOf(`schedule: " "\n${images}`)).toEqual([
      'line 1: schedule: must be a cron pattern, e.g. "0 0 * * *"',
    ]);
    expect(problemsOf(`timezone: Mars/Olympus\n${images}`)).toEqual([
      'line 1: timezone: must be an IANA time zone, e.g. Europe/Paris',
    ]);
  });

  it('refuses a file over 1 MiB without reading it', () => {
    const text = `images:\n${item('acme/a')}#${'x'.repeat(1024 * 1024)}\n`;
    expect(problemsOf(text)).toEqual([
      `line 1: the file is ${text.length} bytes; a graph file may have at most 1 MiB`,
    ]);
  });

  it('refuses more than 1000 images', () => {
    const many = Array.from({ length: 1001 }, (_, index) => item(`acme/i${index}`)).join('');
    expect(problemsOf(`images:\n${many}`)).toEqual([
      'line 1: images: lists 1001; a graph file may have at most 1000',
    ]);
    const most = Array.from({ length: 1000 }, (_, index) => item(`acme/i${index}`)).join('');
    expect(parse(`images:\n${most}`).images).toHaveLength(1000);
  });

  it('bounds the expansion of aliases', () => {
    // 60 uses of one alias: more than the bound, however little each one expands to
    const bomb = `junk: [&x a, ${Array(60).fill('*x').join(', ')}]\nimages:\n${item('acme/a')}`;
    const problems = problemsOf(bomb);
    expect(problems[0]).toMatch(/^line 1: cannot be read: .*alias/i);
    // a few aliases are fine
    const text = `images:\n  - image: acme/a\n    build: &hub { target: dockerhub }\n  - image: acme/b\n    build: *hub\n`;
    expect(parse(text).images.map(({ build }) => build)).toEqual([
      { target: 'dockerhub', for: 'acme/a:latest' },
      { target: 'dockerhub', for: 'acme/b:latest' },
    ]);
  });

  it('never quotes a long value in full', () => {
    const secret = `acme/${'s'.repeat(100)}`;
    const key = 'k'.repeat(100);
    const problems = problemsOf(
      `images:\n${item('acme/a', [`${secret} x`])}    ${key}: 1\n${item(`${secret}:Bad Tag`)}`,
    );
    expect(problems).toHaveLength(3);
    expect(problems.every((problem) => problem.includes('...'))).toBe(true);
    expect(problems.join('\n')).not.toContain(secret);
    expect(problems.join('\n')).not.toContain(key);
  });

  it('reports many problems together, each with its line', () => {
    const text = [
      'delay: 1e9',
      'timezone: Nowhere',
      'colour: blue',
      'images:',
      item('acme/a', ['acme/a']).trimEnd(),
      item('acme/b', ['not a ref']).trimEnd(),
      item('acme/a').trimEnd(),
      '  - image: acme/c',
      '    build: { target: dockerhub, bad: token }',
      '',
    ].join('\n');
    expect(problemsOf(text)).toEqual([
      'line 1: delay: must be a number of seconds from 0 to 86400',
      'line 2: timezone: must be an IANA time zone, e.g. Europe/Paris',
      "line 3: unknown field 'colour': allowed are delay, schedule, timezone, images",
      'line 11: acme/a:latest is listed twice: on line 5 and line 11',
      'line 6: from: acme/a:latest cannot be built from itself',
      "line 9: from: 'not a ref' is neither a node nor a valid image reference: it contains a space",
      'line 15: bad: token',
    ]);
  });
});

describe('a problem of a build written as a block', () => {
  it('is at the line of the field it names', () => {
    expect(
      problemsOf(`images:
  - image: acme/base:latest
    build:
      target: dockerhub
      bad: here
`),
    ).toEqual(['line 5: bad: here']);
  });
});
