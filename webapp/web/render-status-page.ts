import { futureSlack } from '../chain/create-propagator';
import type { GraphNodeView, GraphView, StatusView, WaveView } from './build-status-view';

/** Seconds between two loads of the page while the chain moves. */
export const pageRefreshSeconds = 10;

/** The states in which the chain is moving, and the page reloads itself. */
const moving = new Set(['waiting', 'pending', 'awaited', 'building']);

/** The states a person has to look into. */
const attention = new Set(['stalled', 'failed', 'blocked']);

const style = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232a;background:#f4f6f8}
main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.2rem 0;overflow-wrap:anywhere}
h2{font-size:1rem;margin:1.4rem 0 .5rem;color:#4a5561;text-transform:uppercase;letter-spacing:.04em}
p,li{overflow-wrap:anywhere}
a{color:#0b5cad}
.meta{color:#4a5561;margin:.2rem 0}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,monospace}
.banner{background:#fff4ce;border:1px solid #e0c25a;border-radius:6px;padding:.5rem .75rem;margin:.75rem 0}
ol,ul{list-style:none;margin:0;padding:0}
.tags li,.box li{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:.6rem .75rem;margin:0 0 .5rem}
.tags li{border-left:6px solid var(--edge)}
.head{display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline;justify-content:space-between}
.name{font-weight:600;font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.badge{display:inline-block;border-radius:999px;padding:0 .6rem;font-size:.85rem;font-weight:600;background:var(--tint);color:var(--ink)}
.detail{display:block;color:#4a5561;font-size:.92rem}
body{--edge:#8c959f;--tint:#eaeef2;--ink:#24292f}
.state-built{--edge:#1a7f37;--tint:#dafbe1;--ink:#116329}
.state-pending,.state-awaited,.state-building{--edge:#0969da;--tint:#ddf4ff;--ink:#0a3069}
.state-stalled,.state-failed{--edge:#cf222e;--tint:#ffebe9;--ink:#82071e}
.state-blocked{--edge:#bf8700;--tint:#fff8c5;--ink:#6f4400}
.state-dry-run{--edge:#8250df;--tint:#fbefff;--ink:#512a97}
main.wide{max-width:72rem}
h3{display:flex;flex-wrap:wrap;gap:0 .6rem;align-items:baseline;font-size:1.05rem;margin:.6rem 0 .4rem;padding:.35rem 0;position:sticky;top:0;z-index:1;background:#f4f6f8}
.jump{display:flex;flex-wrap:wrap;gap:.25rem .9rem;margin:.2rem 0 .4rem}
h3 small{font-size:.9rem;font-weight:400;color:#4a5561}
.nodes{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,20rem),1fr));gap:.5rem}
.nodes li{background:#fff;border:1px solid #d8dee4;border-left:6px solid var(--edge);border-radius:8px;padding:.5rem .7rem;min-width:0}
.nodes .name{min-width:0}
.ref{display:inline-block;max-width:100%}
progress{display:block;width:100%;height:.75rem;margin:.3rem 0}
.overall{font-size:.95rem;vertical-align:middle}
footer{margin:1.5rem 0 .5rem;color:#4a5561;font-size:.85rem}
`;

/** The status page: one HTML document, every value escaped, no script and no external asset. */
export function renderStatusPage(status: StatusView, now: number): string {
  const when = (iso: string | null) => renderTime(iso, now);
  const graph = status.graph;
  // A line of tags keeps its table; only a graph file's nodes are drawn by level.
  const drawn = graph !== undefined && graph.file !== null ? graph : null;
  const tags =
    drawn === null ? status.tags.map((entry) => describeTag(entry, status, when, now)) : [];
  const nodes =
    drawn === null
      ? []
      : drawn.nodes.map((node) => {
          const line = describeNode(node, when, now);
          // A build that ended well without a new image is worth a look, whatever the state.
          return node.warning === undefined
            ? line
            : { ...line, details: [...line.details, `warning: ${escape(node.warning)}`] };
        });
  const states = [...tags, ...nodes].map((line) => line.state);
  const inFlight = graph?.wave != null && graph.wave.endedAt === undefined;
  const refresh = inFlight || states.some((state) => moving.has(state));
  const overall = states.some((state) => attention.has(state))
    ? 'needs attention'
    : refresh
      ? 'running'
      : 'idle';
  const overallClass = overall === 'running' ? 'pending' : overall === 'idle' ? 'built' : 'failed';
  const sections = [
    graph === undefined ? '' : renderWaves(graph, drawn !== null, when),
    drawn === null
      ? `<section><h2>Tags, in build order</h2><ol class="tags">${tags
          .map(
            (tag) =>
              `<li class="state-${tag.state}" data-tag="${escape(tag.tag)}" data-state="${tag.state}">` +
              `<div class="head"><span class="name">${escape(tag.tag)}</span>` +
              `<span class="badge">${tag.label}</span></div>` +
              tag.details.map((detail) => `<span class="detail">${detail}</span>`).join('') +
              `</li>`,
          )
          .join('')}</ol></section>`
      : renderGraph(drawn, nodes),
    `<section><h2>Next kick-off</h2><p data-kickoff>${
      status.nextKickoff === null ? 'none planned' : when(status.nextKickoff)
    }</p></section>`,
    renderUpstream(status.upstream, when),
    renderNotifications(status.notifications, when),
  ];
  const registry =
    status.reconciliation.lastLook === null
      ? ''
      : `<p class="meta">Registry last looked at ${when(status.reconciliation.lastLook)}${
          status.reconciliation.outcome === null ? '' : `: ${escape(status.reconciliation.outcome)}`
        }</p>`;
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">',
    refresh ? `<meta http-equiv="refresh" content="${pageRefreshSeconds}">` : '',
    `<title>${escape(status.repository)}: ${overall}</title><style>${style}</style></head><body>`,
    drawn === null ? '<main>' : '<main class="wide">',
    `<header><h1 data-repository>${escape(status.repository)} `,
    `<span class="badge overall state-${overallClass}" data-overall>${overall}</span></h1>`,
    `<p class="meta" data-target>Builds by <strong>${escape(status.target.name)}</strong> at `,
    `<code>${escape(status.target.where)}</code></p>`,
    status.dryRun
      ? '<p class="banner" data-dry-run>DRY RUN: no trigger token is set, so triggers are logged, not sent.</p>'
      : '',
    renderStore(status.store, when),
    `</header>${sections.join('')}`,
    `<footer>${registry}<p class="meta">As of ${escape(isoText(now))}. `,
    refresh ? `Reloads every ${pageRefreshSeconds} s while the chain moves. ` : '',
    `<a href="/status">The same as JSON</a>. Version ${escape(status.version)}.</p></footer>`,
    '</main></body></html>',
  ].join('');
}

interface Line {
  /** one word, for the page's classes and for tests: built, none or the chain's own state */
  state: string;
  label: string;
  /** HTML, already escaped */
  details: string[];
}

interface TagLine extends Line {
  tag: string;
}

function describeTag(
  entry: StatusView['tags'][number],
  status: StatusView,
  when: (iso: string | null) => string,
  now: number,
): TagLine {
  const pushed = latest(believable(entry.appPush, now), believable(entry.registryPush, now));
  const lastPush = pushed === null ? [] : [`last pushed ${when(pushed)}`];
  const build = entry.build ?? null;
  const run = build === null ? [] : [describeRun(build)];
  const line = (state: string, label: string, details: string[]): TagLine => ({
    tag: entry.tag,
    state,
    label,
    details: [...details, ...run, ...lastPush],
  });
  switch (entry.state) {
    case 'pending': {
      const owed = status.pending.find((item) => item.tag === entry.tag);
      return line(
        'pending',
        'pending',
        owed === undefined
          ? []
          : [`trigger due ${when(owed.dueAt)}, after the push of ${escape(owed.after)}`],
      );
    }
    case 'awaited': {
      const watched = status.awaiting.find((item) => item.tag === entry.tag);
      return line(
        'awaited',
        'triggered',
        watched === undefined
          ? ['awaiting its push']
          : [`triggered ${when(watched.since)}, awaiting its push`],
      );
    }
    case 'stalled': {
      const stall = status.stalled.find((item) => item.tag === entry.tag);
      return line(
        'stalled',
        'stalled',
        stall === undefined
          ? ['no push since its trigger']
          : [`no push since its trigger ${when(stall.since)}: failed or ignored build?`],
      );
    }
    case 'building':
      return line('building', 'building', []);
    case 'failed':
      return line('failed', 'failed', []);
    case 'waiting':
      return line('waiting', 'waiting', ['built after the tag before it']);
    case null:
      return pushed === null
        ? line('none', 'not built yet', [])
        : {
            tag: entry.tag,
            state: 'built',
            label: 'built',
            details: [...run, `built ${when(pushed)}`],
          };
    default:
      // A state this page does not know yet is still shown, as it is.
      return line(/^[a-z-]+$/.test(entry.state) ? entry.state : 'other', escape(entry.state), []);
  }
}

/** One line on a tag's run: its state while it is read, or why it is not. */
function describeRun(build: NonNullable<StatusView['tags'][number]['build']>): string {
  const see = build.url === null ? '' : `: ${renderLink(build.url, 'see the run')}`;
  if (build.unreadable !== undefined) {
    return `cannot read the run (${escape(build.unreadable)})${see}`;
  }
  // Its last state would still read as running: a push or a stall ended the reads first.
  if (build.stopped !== undefined) return `run no longer followed (${escape(build.stopped)})${see}`;
  return `build ${escape(build.state)}${see}`;
}

/** A node's state, in words first: its colour only repeats them. */
function describeNode(
  node: GraphNodeView,
  when: (iso: string | null) => string,
  now: number,
): Line {
  const pushed = latest(believable(node.appPush, now), believable(node.registryPush, now));
  const lastPush = pushed === null ? [] : [`last pushed ${when(pushed)}`];
  const build = node.build ?? null;
  const run = build === null ? [] : [describeRun(build)];
  const since = node.since === undefined ? '' : ` ${when(node.since)}`;
  const line = (state: string, label: string, details: string[]): Line => ({
    state,
    label,
    details: [...details, ...run, ...lastPush],
  });
  const built = (): Line => ({
    state: 'built',
    label: 'built',
    details: [...run, ...(pushed === null ? [] : [`built ${when(pushed)}`])],
  });
  switch (node.state) {
    case 'waiting':
      return line('waiting', 'not built yet', ['waits for its parents in this wave']);
    case 'pending':
      return line('pending', 'pending', [
        node.dueAt === undefined ? 'trigger due' : `trigger due ${when(node.dueAt)}`,
      ]);
    case 'awaited':
      return line('awaited', 'triggered', [`triggered${since}, awaiting its push`]);
    case 'building':
      return line('building', 'building', node.since === undefined ? [] : [`since${since}`]);
    case 'built':
      return built();
    case 'stalled':
      return line('stalled', 'stalled', [
        `no push since its trigger${since}: failed or ignored build?`,
      ]);
    case 'failed':
      return line('failed', 'failed', node.since === undefined ? [] : [`failed${since}`]);
    case 'blocked':
      return line('blocked', 'blocked', [
        node.blockedBy === undefined
          ? 'blocked by a node that failed'
          : `blocked by <span class="name ref">${escape(node.blockedBy)}</span>, which failed`,
      ]);
    case 'dry-run':
      return line('dry-run', 'dry run', ['trigger logged, not sent']);
    case null:
      return pushed === null ? line('none', 'no push seen', []) : built();
    default: {
      // A state this page does not know yet is still shown, as it is.
      const state = node.state as string;
      return line(/^[a-z-]+$/.test(state) ? state : 'other', escape(state), []);
    }
  }
}

/** The graph file's nodes, level by level in build order, each with what it is built from. */
function renderGraph(graph: GraphView, lines: Line[]): string {
  const levels = new Map<number, { node: GraphNodeView; line: Line }[]>();
  graph.nodes.forEach((node, index) => {
    const level = levels.get(node.level) ?? [];
    level.push({ node, line: lines[index] as Line });
    levels.set(node.level, level);
  });
  const ordered = [...levels.entries()].sort(([a], [b]) => a - b).map(([, level]) => level);
  const sections = ordered.map((level, rank) => {
    const order = rank === 0 ? 'built first' : `after level ${rank}`;
    const items = level.map(({ node, line }) => {
      const from =
        node.parents.length === 0
          ? ''
          : `<span class="detail">from ${node.parents.map(reference).join(', ')}</span>`;
      const upstream =
        node.upstream.length === 0
          ? ''
          : `<span class="detail">upstream ${node.upstream.map(reference).join(', ')}</span>`;
      return (
        `<li class="state-${line.state}" data-node="${escape(node.id)}" data-state="${line.state}">` +
        `<div class="head"><span class="name">${escape(node.id)}</span>` +
        `<span class="badge">${line.label}</span></div>` +
        line.details.map((detail) => `<span class="detail">${detail}</span>`).join('') +
        `${from}${upstream}</li>`
      );
    });
    return (
      `<section data-level="${rank + 1}" id="level-${rank + 1}"><h3>Level ${rank + 1} ` +
      `<small>${order} · ${levelProgress(level.map(({ line }) => line.state))}</small></h3>` +
      `<ol class="nodes">${items.join('')}</ol></section>`
    );
  });
  // A long graph is many screens tall on a phone: each level is one tap away.
  const jump =
    ordered.length < 2
      ? ''
      : `<nav aria-label="Levels"><ol class="jump">${ordered
          .map((_, rank) => `<li><a href="#level-${rank + 1}">Level ${rank + 1}</a></li>`)
          .join('')}</ol></nav>`;
  return (
    `<section data-graph><h2>Images, in build order</h2>` +
    `<p class="meta">${plural(graph.nodes.length, 'image')} in ${plural(ordered.length, 'level')}, ` +
    `from <code>${escape(graph.file ?? '')}</code>: each level is built after the ones above it.</p>` +
    `${jump}${sections.join('')}</section>`
  );
}

/** Another image's name, kept on one line unless it is longer than the line. */
function reference(name: string): string {
  return `<span class="ref">${escape(name)}</span>`;
}

/** `4 of 10 built, 1 stalled, 2 blocked`: a level at a glance. */
function levelProgress(states: string[]): string {
  const counted = (state: string) => states.filter((each) => each === state).length;
  const troubles = ['failed', 'stalled', 'blocked']
    .filter((state) => counted(state) > 0)
    .map((state) => `, ${counted(state)} ${state}`);
  return `${counted('built')} of ${states.length} built${troubles.join('')}`;
}

/** The wave in flight and the last one; for a line of tags, only once there is one. */
function renderWaves(
  graph: GraphView,
  always: boolean,
  when: (iso: string | null) => string,
): string {
  const items: string[] = [];
  if (graph.wave !== null) items.push(renderWave(graph.wave, 'in-flight', when));
  if (graph.lastWave !== null) items.push(renderWave(graph.lastWave, 'last', when));
  if (items.length === 0 && !always) return '';
  return `<section data-waves><h2>Waves</h2>${
    items.length === 0
      ? '<p class="meta">No wave since the app started.</p>'
      : `<ul class="box">${items.join('')}</ul>`
  }</section>`;
}

function renderWave(
  wave: WaveView,
  which: 'in-flight' | 'last',
  when: (iso: string | null) => string,
): string {
  const built = count(wave.built);
  const total = count(wave.total);
  const troubles = [
    ...(wave.failed > 0 ? [`${count(wave.failed)} failed`] : []),
    ...(wave.blocked > 0 ? [`${count(wave.blocked)} blocked`] : []),
  ];
  const progress = `<strong>${built} of ${total} built</strong>${troubles.map((text) => `, ${text}`).join('')}`;
  const started = `started ${when(wave.startedAt)} by ${escape(wave.by)}`;
  if (which === 'in-flight') {
    const bar =
      Number(total) > 0
        ? `<progress value="${built}" max="${total}">${built} of ${total}</progress>`
        : '';
    return (
      `<li class="state-pending" data-wave="in-flight">` +
      `<div class="head"><span class="name">In flight</span><span class="badge">running</span></div>` +
      `<span class="detail">${progress}</span>${bar}<span class="detail">${started}</span></li>`
    );
  }
  const outcome = wave.outcome ?? 'ended';
  const took = duration(wave.startedAt, wave.endedAt);
  const ended =
    wave.endedAt === undefined
      ? ''
      : `<span class="detail">ended ${when(wave.endedAt)}${took === null ? '' : `, after ${took}`}</span>`;
  return (
    `<li class="state-${outcome === 'complete' ? 'built' : 'failed'}" data-wave="last">` +
    `<div class="head"><span class="name">Last wave</span><span class="badge">${escape(outcome)}</span></div>` +
    `<span class="detail">${progress}</span>${ended}<span class="detail">${started}</span></li>`
  );
}

/** A count as the page shows it: a whole number, never markup. */
function count(value: number): string {
  return Number.isFinite(value) ? String(Math.max(0, Math.trunc(value))) : '?';
}

function plural(value: number, noun: string): string {
  return `${count(value)} ${noun}${value === 1 ? '' : 's'}`;
}

function duration(from: string, to: string | undefined): string | null {
  if (to === undefined) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isNaN(ms) || ms < 0 ? null : span(ms);
}

function renderUpstream(
  upstream: StatusView['upstream'],
  when: (iso: string | null) => string,
): string {
  if (upstream.length === 0) return '';
  const items = upstream.map((image) => {
    const read =
      image.digest === null
        ? 'not read yet'
        : `<code>${escape(shortDigest(image.digest))}</code>, read ${when(image.readAt)}`;
    const error =
      image.error === null ? '' : `<span class="detail">cannot read: ${escape(image.error)}</span>`;
    const pending = image.pending
      ? `<span class="detail">new digest <code>${escape(shortDigest(image.pending.digest))}</code> since ${when(image.pending.since)}: it counts once it has lasted UPSTREAM_QUIET</span>`
      : '';
    const owed = image.owedSince
      ? `<span class="detail">changed ${when(image.owedSince)}: its kick-off waits until the chain is idle</span>`
      : '';
    return `<li data-upstream="${escape(image.image)}"><span class="name">${escape(image.image)}</span><span class="detail">${read}</span>${pending}${owed}${error}</li>`;
  });
  return `<section><h2>Upstream images</h2><ul class="box">${items.join('')}</ul></section>`;
}

function renderNotifications(
  notifications: StatusView['notifications'],
  when: (iso: string | null) => string,
): string {
  if (notifications === undefined) return '';
  const items = [...notifications]
    .reverse()
    .map(
      (note) =>
        `<li data-notification="${escape(note.event)}"><div class="head"><span class="name">${escape(note.event)}</span>` +
        `<span class="detail">${when(note.at)}</span></div>${escape(note.text)}</li>`,
    );
  return `<section><h2>Last notifications, newest first</h2>${
    items.length === 0
      ? '<p class="meta">None sent yet.</p>'
      : `<ul class="box">${items.join('')}</ul>`
  }</section>`;
}

/** A link only to a web address; anything else is shown as text. */
function renderLink(url: string, text: string): string {
  return /^https?:\/\//i.test(url)
    ? `<a href="${escape(url)}" rel="noopener noreferrer">${text}</a>`
    : escape(url);
}

function renderTime(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return escape(iso);
  const text = isoText(at);
  const relative = at >= now ? `in ${span(at - now)}` : `${span(now - at)} ago`;
  return `<time datetime="${escape(new Date(at).toISOString())}">${text}</time> (${relative})`;
}

/** `2026-11-26 12:00:00 UTC`: one time zone for every reader, as in the logs. */
function isoText(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function span(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60)
    return seconds % 60 === 0 ? `${minutes} min` : `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

function believable(iso: string | null, now: number): string | null {
  return iso !== null && Date.parse(iso) > now + futureSlack ? null : iso;
}

function latest(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

function shortDigest(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return hex === undefined ? digest : `${algorithm}:${hex.slice(0, 12)}`;
}

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] as string);
}

/** With a database: which dyno plans, this one's part, and a banner while it does not answer. */
function renderStore(store: StatusView['store'], when: (iso: string) => string): string {
  if (store === undefined) return '';
  const planner =
    store.role === 'planner'
      ? `this dyno (<code>${escape(store.dyno ?? '')}</code>) plans`
      : store.planner === null || store.planner === undefined
        ? 'no dyno plans yet'
        : `<code>${escape(store.planner)}</code> plans; this dyno (<code>${escape(store.dyno ?? '')}</code>) takes deliveries for it`;
  const down =
    store.unreachableSince === null || store.unreachableSince === undefined
      ? ''
      : `<p class="banner" data-database-down>The database has not answered since ${when(store.unreachableSince)}: deliveries are kept in memory, and nothing is sent until it answers.</p>`;
  const age =
    store.viewAt === undefined
      ? ''
      : ` What this page shows is that dyno's, as of ${when(store.viewAt)}.`;
  return `<p class="meta" data-store>State in PostgreSQL: ${planner}.${age}</p>${down}`;
}
