import type { PendingTrigger } from '../chain/create-journal';

/** What the app keeps across restarts, each part written whole and on its own. */
export interface SavedState {
  /** the triggers owed and the builds awaited */
  journal: PendingTrigger[];
  /** per node, the time (ms) of the latest push the app knows of: a repeat of it is no push */
  pushes: Record<string, number>;
  /** per upstream image, the digest that counts: a change while the app was down is a change */
  upstream: Record<string, string>;
  /** per node on a registry without push times, its recent digests, the newest last */
  digests: Record<string, string[]>;
}

export type StatePart = keyof SavedState;

export const emptyState = (): SavedState => ({
  journal: [],
  pushes: {},
  upstream: {},
  digests: {},
});

/** Where the state lives: a file beside the app, or a database every dyno shares. */
export interface StateStore {
  readonly kind: 'file' | 'postgres';
  /** What was saved; an empty state when nothing was, or when it cannot be read (logged). */
  load(): Promise<SavedState>;
  /** What was saved, at once: only a store on this machine's disk can say so. */
  read?(): SavedState;
  /** Keeps `value` as the whole of `part`, now or as soon as the store can. */
  save<P extends StatePart>(part: P, value: SavedState[P]): void;
  /** Resolves once everything saved so far is written, or the store has said why it cannot be. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What one claim found: `granted` to this process, which sends it; `sent` by another already;
 * `busy` while another that may still send it holds it (until its lease runs out).
 */
export type ClaimAnswer = 'granted' | 'sent' | 'busy';

/** A delivery one dyno took and the planning one acts on: a push, or a build's end. */
export type InboxDelivery =
  | { kind: 'push'; tag: string; pushedAt?: string }
  | { kind: 'run'; service: string; id: string; state: string; url: string | null }
  | { kind: 'published'; image: string; digest: string };

/** What /status says of where the state lives, and of this dyno's part in it. */
export interface StoreStatus {
  kind: 'file' | 'postgres';
  /** planner: this process plans and sends; standby: another dyno does, this one takes deliveries */
  role: 'planner' | 'standby';
  /** the dyno that plans, when the database says (its name and process) */
  planner?: string | null;
  /** this dyno's name */
  dyno?: string;
  /** ISO time since when the database has not answered; null while it does */
  unreachableSince?: string | null;
  /** on a standby dyno: when the dyno that plans wrote the view shown (ISO) */
  viewAt?: string;
}
