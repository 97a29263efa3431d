import { Agent } from 'undici';
import { RequestError, sendRequest } from '../../../webapp/http/send-request';
import { startHostileServer, type HostileServer } from '../../helpers/hostile-server';

let server: HostileServer | undefined;
const dispatcher = new Agent();

afterEach(async () => {
  await server?.close();
  server = undefined;
});
afterAll(() => dispatcher.close());

const get = (url: string, limits: { deadline: number; maxBytes: number; signal?: AbortSignal }) =>
  sendRequest(url, { method: 'GET', dispatcher, keepBody: true }, limits);

describe('sendRequest', () => {
  it('ends an answer whose body trickles in at its deadline, and keeps the status', async () => {
    server = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const started = Date.now();
    const answer = await get(server.url, { deadline: 800, maxBytes: 1024 });
    const took = Date.now() - started;
    expect(answer).toMatchObject({ status: 200, bodyProblem: 'timeout' });
    expect(answer.body).toBeUndefined();
    expect(took).toBeGreaterThanOrEqual(790);
    expect(took).toBeLessThan(1800);
  });

  it('fails as a timeout when no status comes by the deadline', async () => {
    server = await startHostileServer({ kind: 'hang' });
    const started = Date.now();
    const err = await get(server.url, { deadline: 500, maxBytes: 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ kind: 'timeout', message: expect.stringMatching(/timeout/) });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('refuses a body declared larger than the cap without reading it', async () => {
    server = await startHostileServer({
      kind: 'huge',
      status: 200,
      bytes: 50 * 1024 * 1024,
      declared: true,
    });
    const answer = await get(server.url, { deadline: 10_000, maxBytes: 4 * 1024 * 1024 });
    expect(answer).toMatchObject({ status: 200, bodyProblem: 'too-large' });
    expect(answer.body).toBeUndefined();
  });

  it('stops reading an undeclared body at the cap, and holds no more than the cap', async () => {
    server = await startHostileServer({
      kind: 'huge',
      status: 200,
      bytes: 50 * 1024 * 1024,
      declared: false,
    });
    const answer = await get(server.url, { deadline: 10_000, maxBytes: 1024 * 1024 });
    expect(answer).toMatchObject({ status: 200, bodyProblem: 'too-large' });
    // The socket is closed once the cap is passed: the server could not write the rest.
    expect(server.written()).toBeLessThan(20 * 1024 * 1024);
  });

  it('stops at once when its signal aborts, while the body trickles', async () => {
    server = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(), 200);
    const started = Date.now();
    const answer = await get(server.url, {
      deadline: 30_000,
      maxBytes: 1024,
      signal: shutdown.signal,
    });
    expect(answer).toMatchObject({ status: 200, bodyProblem: 'aborted' });
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('fails as aborted when its signal aborts before any answer', async () => {
    server = await startHostileServer({ kind: 'hang' });
    const shutdown = new AbortController();
    setTimeout(() => shutdown.abort(), 100);
    const err = await get(server.url, {
      deadline: 30_000,
      maxBytes: 1024,
      signal: shutdown.signal,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'aborted' });
  });

  it('returns a whole body within the cap', async () => {
    server = await startHostileServer({ kind: 'huge', status: 201, bytes: 1000, declared: true });
    const answer = await get(server.url, { deadline: 5000, maxBytes: 1000 });
    expect(answer.status).toBe(201);
    expect(answer.body).toHaveLength(1000);
    expect(answer.bodyProblem).toBeUndefined();
  });

  it('says a refused connection is a network failure', async () => {
    server = await startHostileServer({ kind: 'hang' });
    const url = server.url;
    await server.close();
    server = undefined;
    const err = await get(url, { deadline: 5000, maxBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'network' });
    expect((err as Error).message).toMatch(/ECONNREFUSED|closed|reset/);
  });
});
