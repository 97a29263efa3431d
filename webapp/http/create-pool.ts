import type { Agent, Dispatcher } from 'undici';

/**
 * A connection pool for requests to other services, with the connect timeout that a pool owns
 * (each request's own deadline is sendRequest's). Idle connections are closed after 4 s, before
 * most servers close them under a request. undici is loaded, and the pool made, at its first
 * request: the clock process sends one a day, and undici's parser would hold memory all along.
 */
export function createPool(connectTimeout: number): Dispatcher {
  let agent: Agent | undefined;
  let closed = false;
  const made = (): Agent => {
    if (closed) throw new Error('the connection pool is closed');
    if (agent === undefined) {
      const undici = require('undici') as typeof import('undici');
      agent = new undici.Agent({ connect: { timeout: connectTimeout }, keepAliveTimeout: 4000 });
    }
    return agent;
  };
  // undici's request() needs only dispatch() of the dispatcher it is given.
  const pool = {
    dispatch: (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) =>
      made().dispatch(options, handler),
    close: async () => {
      closed = true;
      await agent?.close();
    },
    destroy: async () => {
      closed = true;
      await agent?.destroy();
    },
  };
  return pool as unknown as Dispatcher;
}
