import type { Dispatcher } from 'undici';
import type { Logger } from '../../logging/create-logger';
import type { Clock } from '../../types';
import type { GitHubApp } from '../targets/build-target';
import { createAppTokens, type AppTokens } from './create-app-tokens';
import { readAppKey } from './read-app-key';

export interface SharedAppTokensDeps {
  dispatcher: Dispatcher;
  clock: Pick<Clock, 'now'>;
  /** ms one request for a token may take */
  timeout: number;
  signal?: AbortSignal;
  log: Logger;
}

/**
 * The maker of each GitHub App's tokens, one per App and API for the whole process: every node
 * built by an App shares its cached installation tokens.
 */
export function shareAppTokens(deps: SharedAppTokensDeps): (app: GitHubApp) => AppTokens {
  const made = new Map<string, AppTokens>();
  return (app) => {
    const key = `${app.appId} ${app.apiUrl}`;
    let tokens = made.get(key);
    if (tokens === undefined) {
      tokens = createAppTokens({
        appId: app.appId,
        key: readAppKey(app.privateKey),
        apiUrl: app.apiUrl,
        dispatcher: deps.dispatcher,
        clock: deps.clock,
        timeout: deps.timeout,
        ...(deps.signal === undefined ? {} : { signal: deps.signal }),
        log: deps.log,
      });
      made.set(key, tokens);
    }
    return tokens;
  };
}
