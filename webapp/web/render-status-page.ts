import { futureSlack } from '../chain/create-propagator';
import type { StatusView } from './build-status-view';

/** Seconds between two loads of the page while the chain moves. */
export const pageRefreshSeconds = 10;

/** The states in which the chain is moving, and the page reloads itself. */
const moving = new Set(['pending', 'awaited', 'building']);

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
.overall{font-size:.95rem;vertical-align:middle}
footer{margin:1.5rem 0 .5rem;color:#4a5561;font-size:.85rem}
`;

/** The status page: one HTML document, every value escaped, no script and no external asset. */
export function renderStatusPage(status: StatusView, now: number): string {
  const when = (iso: string | null) => renderTime(iso, now);
  const tags = status.tags.map((entry) => describeTag(entry, status, when, now));
  const refresh = tags.some((tag) => moving.has(tag.state));
  const overall = tags.some((tag) => tag.state === 'stalled' || tag.state === 'failed')
    ? 'needs attention'
    : refresh
      ? 'running'
      : 'idle';
  const overallClass = overall === 'running' ? 'pending' : overall === 'idle' ? 'built' : 'failed';
  const sections = [
    `<section><h2>Tags, in build order</h2><ol class="tags">${tags
      .map(
        (tag) =>
          `<li class="state-${tag.state}" data-tag="${escape(tag.tag)}" data-state="${tag.state}">` +
          `<div class="head"><span class="name">${escape(tag.tag)}</span>` +
          `<span class="badge">${tag.label}</span></div>` +
          tag.details.map((detail) => `<span class="detail">${detail}</span>`).join('') +
          `</li>`,
      )
      .join('')}</ol></section>`,
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
    `<title>${escape(status.repository)}: ${overall}</title><style>${style}</style></head><body><main>`,
    `<header><h1 data-repository>${escape(status.repository)} `,
    `<span class="badge overall state-${overallClass}" data-overall>${overall}</span></h1>`,
    `<p class="meta" data-target>Builds by <strong>${escape(status.target.name)}</strong> at `,
    `<code>${escape(status.target.where)}</code></p>`,
    status.dryRun
      ? '<p class="banner" data-dry-run>DRY RUN: no trigger token is set, so triggers are logged, not sent.</p>'
      : '',
    `</header>${sections.join('')}`,
    `<footer>${registry}<p class="meta">As of ${escape(isoText(now))}. `,
    refresh ? `Reloads every ${pageRefreshSeconds} s while the chain moves. ` : '',
    `<a href="/status">The same as JSON</a>. Version ${escape(status.version)}.</p></footer>`,
    '</main></body></html>',
  ].join('');
}

interface TagLine {
  tag: string;
  /** one word, for the page's classes and for tests: built, none or the chain's own state */
  state: string;
  label: string;
  /** HTML, already escaped */
  details: string[];
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
