import { Agent, type Dispatcher } from 'undici';

/**
 * A connection pool for requests to other services, with the connect timeout that a pool owns
 * (each request's own deadline is sendRequest's). Idle connections are closed after 4 s, before
 * most servers close them under a request.
 */
export function createPool(connectTimeout: number): Dispatcher {
  return new Agent({ connect: { timeout: connectTimeout }, keepAliveTimeout: 4000 });
}
