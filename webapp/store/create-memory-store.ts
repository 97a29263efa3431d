import { emptyState, type SavedState, type StateStore } from './state-store';

/**
 * State kept in this process only, gone when it ends: for a planner whose journal is given
 * apart (the tests', the bench's), so that nothing else it knows is written anywhere.
 */
export function createMemoryStore(initial: SavedState = emptyState()): StateStore {
  let state: SavedState = structuredClone(initial);
  return {
    kind: 'file',
    load: async () => structuredClone(state),
    read: () => structuredClone(state),
    save(part, value) {
      state = { ...state, [part]: structuredClone(value) };
    },
    async flush() {},
    async close() {},
  };
}
