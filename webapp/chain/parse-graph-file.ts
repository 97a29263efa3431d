import { isTimeZone } from '../settings/is-time-zone';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { orderGraph } from './order-graph';
import { parseImageRef, type ImageRef } from './parse-image-ref';

/** A graph file as written: its timing, and each image with its parents and build. */
export interface GraphFile<B> {
  /** seconds from the last parent's push to a node's trigger, as written */
  delay?: number;
  /** the roots' kick-off: a cron pattern */
  schedule?: string;
  timezone?: string;
  /** in the file's order */
  images: { image: ImageRef; from: ImageRef[]; build: B; line: number }[];
}

/** Every problem of a graph file, each as `line N: ...`. */
export class GraphFileError extends Error {
  constructor(
    file: string,
    readonly problems: string[],
  ) {
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    super(`${file}: the graph file has ${count}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'GraphFileError';
  }
}

const largest = 1024 * 1024;
const mostImages = 1000;
// Small: a graph file has no use for many aliases, and each one may multiply what is read.
const mostAliases = 50;
const longestDelay = 86400;
const longestShown = 64;

const topFields = ['delay', 'schedule', 'timezone', 'images'];
const imageFields = ['image', 'from', 'build'];

/**
 * Reads a graph file (YAML, or JSON): checks its shape, each image reference, that no image is
 * listed twice and that the images do not build each other in a cycle; `readBuild` reads each
 * image's `build`. Pure: throws one GraphFileError that names every problem with its line, and
 * never quotes a long value in full.
 */
export function parseGraphFile<B>(
  text: string,
  file: string,
  readBuild: (build: unknown, image: ImageRef) => { problems: string[]; build?: B },
): GraphFile<B> {
  const problems: string[] = [];
  const fail = (): never => {
    throw new GraphFileError(file, problems);
  };
  const size = Buffer.byteLength(text, 'utf8');
  if (size > largest) {
    problems.push(`line 1: the file is ${size} bytes; a graph file may have at most 1 MiB`);
    fail();
  }

  const lines = new LineCounter();
  let doc: Document.Parsed;
  try {
    // Without pretty errors: they quote the file's text around the error.
    doc = parseDocument(text, {
      lineCounter: lines,
      prettyErrors: false,
      uniqueKeys: true,
      // A problem is thrown, never written to the process's warnings.
      logLevel: 'error',
    });
    // Expands every alias once, within the bound, before the nodes are walked below.
    if (doc.errors.length === 0) doc.toJS({ maxAliasCount: mostAliases });
  } catch (err) {
    problems.push(`line 1: cannot be read: ${clip((err as Error).message)}`);
    return fail();
  }
  const lineAt = (offset: number | undefined) => lines.linePos(offset ?? 0).line;
  const lineOf = (node: unknown) => lineAt((node as Node | null)?.range?.[0] ?? undefined);
  const at = (line: number, problem: string) => problems.push(`line ${line}: ${problem}`);

  for (const error of doc.errors) {
    const start = error.pos[0];
    at(
      lineAt(start),
      error.code !== 'DUPLICATE_KEY'
        ? clip(error.message)
        : `'${shown(keyAt(doc, start) ?? '?')}' is given twice`,
    );
  }
  if (problems.length > 0) fail();

  const resolve = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const top = resolve(doc.contents);
  if (!isMap(top)) {
    at(lineOf(top), `the file must be a mapping of ${topFields.join(', ')}`);
    return fail();
  }

  const result: Omit<GraphFile<B>, 'images'> = {};
  let images: unknown;
  for (const { name, line, value, node } of fieldsOf(top, resolve, lineOf)) {
    switch (name) {
      case 'delay':
        if (typeof value === 'number' && value >= 0 && value <= longestDelay) result.delay = value;
        else at(line, `delay: must be a number of seconds from 0 to ${longestDelay}`);
        break;
      case 'schedule':
        if (typeof value === 'string' && value.trim() !== '') result.schedule = value;
        else at(line, 'schedule: must be a cron pattern, e.g. "0 0 * * *"');
        break;
      case 'timezone':
        if (typeof value === 'string' && isTimeZone(value)) result.timezone = value;
        else at(line, 'timezone: must be an IANA time zone, e.g. Europe/Paris');
        break;
      case 'images':
        images = node;
        if (!isSeq(node) || node.items.length === 0) {
          at(line, 'images: must be a list of at least one image');
        } else if (node.items.length > mostImages) {
          at(
            line,
            `images: lists ${node.items.length}; a graph file may have at most ${mostImages}`,
          );
        }
        break;
      default:
        at(line, `unknown field '${shown(name)}': allowed are ${topFields.join(', ')}`);
    }
  }
  if (images === undefined) at(lineOf(top), 'images: is required, a list of the images to build');
  if (!isSeq(images) || images.items.length === 0 || images.items.length > mostImages) {
    return fail();
  }

  interface Item {
    image: ImageRef;
    line: number;
    from: { text: string; line: number }[];
    /** its value, its line, and the line of each of its keys */
    build?: { value: unknown; line: number; lines: Map<string, number> };
  }
  const items: Item[] = [];
  for (const entry of images.items) {
    const item = resolve(entry);
    const line = lineOf(item ?? entry);
    if (!isMap(item)) {
      at(line, `each image must be a mapping of ${imageFields.join(', ')}`);
      continue;
    }
    let image: ImageRef | undefined;
    let named = false;
    const from: Item['from'] = [];
    let build: Item['build'];
    for (const field of fieldsOf(item, resolve, lineOf)) {
      switch (field.name) {
        case 'image':
          named = true;
          if (typeof field.value !== 'string') {
            at(field.line, 'image: must be an image reference, e.g. acme/base:latest');
            break;
          }
          try {
            image = parseImageRef(field.value);
          } catch (err) {
            at(field.line, `image: ${clip((err as Error).message, field.value)}`);
          }
          break;
        case 'from': {
          const list = isSeq(field.node) ? field.node.items : [field.node];
          for (const parent of list) {
            const scalar = resolve(parent);
            const text = isScalar(scalar) ? scalar.value : undefined;
            if (typeof text === 'string') {
              from.push({ text, line: lineOf(scalar) });
            } else {
              at(
                lineOf(scalar ?? field.node),
                'from: must be an image reference or a list of them',
              );
            }
          }
          break;
        }
        case 'build':
          if (isMap(field.node)) {
            const value: unknown = field.node.toJS(doc, { maxAliasCount: mostAliases });
            const lines = new Map<string, number>();
            for (const pair of field.node.items) {
              const key = isScalar(pair.key) ? pair.key.value : undefined;
              if (typeof key === 'string') lines.set(key, lineOf(pair.key));
            }
            build = { value, line: field.line, lines };
          } else {
            at(field.line, 'build: must be a mapping with a target');
          }
          break;
        default:
          at(
            field.line,
            `unknown field '${shown(field.name)}' in an image: allowed are ${imageFields.join(', ')}`,
          );
      }
    }
    if (!named) at(line, "an image needs 'image': its namespace/repository:tag");
    if (build === undefined && !item.items.some((pair) => keyOf(pair) === 'build')) {
      at(line, "an image needs 'build': how it is built, with a target");
    }
    if (image !== undefined) items.push({ image, line, from, ...(build ? { build } : {}) });
  }

  const nodes = new Map<string, Item>();
  for (const item of items) {
    const first = nodes.get(item.image.display);
    if (first === undefined) {
      nodes.set(item.image.display, item);
    } else {
      at(
        item.line,
        `${item.image.display} is listed twice: on line ${first.line} and line ${item.line}`,
      );
    }
  }

  const built: GraphFile<B>['images'] = [];
  const graph: { id: string; parents: string[] }[] = [];
  for (const item of items) {
    const parents: ImageRef[] = [];
    for (const { text, line } of item.from) {
      let parent: ImageRef;
      try {
        parent = parseImageRef(text);
      } catch (err) {
        const message = (err as Error).message;
        const prefix = `'${text}' is not an image reference: `;
        const why = message.startsWith(prefix) ? message.slice(prefix.length) : message;
        at(
          line,
          `from: '${shown(text)}' is neither a node nor a valid image reference: ${clip(why, text)}`,
        );
        continue;
      }
      if (parent.display === item.image.display) {
        at(line, `from: ${parent.display} cannot be built from itself`);
      } else if (parents.some((known) => known.display === parent.display)) {
        at(line, `from: ${parent.display} is named twice`);
      } else {
        parents.push(parent);
      }
    }
    if (nodes.get(item.image.display) !== item) continue;
    graph.push({
      id: item.image.display,
      parents: parents.map((parent) => parent.display).filter((id) => nodes.has(id)),
    });
    if (item.build === undefined) continue;
    const read = readBuild(item.build.value, item.image);
    // A problem that names a field is at that field's line, in a block mapping too.
    const { lines } = item.build;
    for (const problem of read.problems) {
      const field = (/^(\w+):/.exec(problem) ?? /^unknown field '(\w+)'/.exec(problem))?.[1];
      at((field === undefined ? undefined : lines.get(field)) ?? item.build.line, problem);
    }
    if (read.build !== undefined) {
      built.push({ image: item.image, from: parents, build: read.build, line: item.line });
    } else if (read.problems.length === 0) {
      at(item.build.line, 'build: cannot be read');
    }
  }

  const order = orderGraph(graph);
  if (!order.ok) {
    const first = nodes.get(order.cycle[0] as string) as Item;
    at(first.line, `the images build each other in a cycle: ${order.cycle.join(' -> ')}`);
  }
  if (problems.length > 0) fail();
  return { ...result, images: built };
}

/** Each field of `map`: its name, its line, its node (aliases resolved) and a scalar's value. */
function fieldsOf(
  map: YAMLMap,
  resolve: (node: unknown) => unknown,
  lineOf: (node: unknown) => number,
) {
  return map.items.map((pair) => {
    const node = resolve(pair.value);
    // Only a scalar's: a collection is walked, or read as a whole where it is a build.
    const value: unknown = isScalar(node) ? node.value : undefined;
    return { name: keyOf(pair) ?? '(a key that is not text)', line: lineOf(pair.key), node, value };
  });
}

/** The text of the key that starts at `offset`. */
function keyAt(doc: Document, offset: number): string | undefined {
  let name: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key as Node | null;
      if (key?.range?.[0] !== offset) return undefined;
      name = keyOf(pair);
      return visit.BREAK;
    },
  });
  return name;
}

function keyOf(pair: Pair): string | undefined {
  const key = pair.key;
  return isScalar(key) && typeof key.value === 'string' ? key.value : undefined;
}

/**
 * `message` with `value` and every other long run of text cut short: a graph file may hold
 * what must not be shown in full, a secret pasted in the wrong place.
 */
function clip(message: string, value?: string): string {
  const whole =
    value !== undefined && value.length > longestShown
      ? message.split(value).join(shown(value))
      : message;
  return whole.replace(new RegExp(`\\S{${longestShown + 1},}`, 'g'), shown);
}

/** `text`, cut short when it is long. */
function shown(text: string): string {
  return text.length > longestShown ? `${text.slice(0, longestShown - 3)}...` : text;
}
