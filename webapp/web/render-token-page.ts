/** Why the token page is shown: no token yet, a wrong one, or one in the address. */
export type TokenPageReason = 'missing' | 'wrong' | 'address';

const notes: Record<TokenPageReason, string> = {
  missing: '',
  wrong: '<p>That token is wrong.</p>',
  address:
    '<p>A token in the address is not taken: the address, token included, ends up in the logs of the router and of every log drain. Type it in below instead.</p>',
};

/** The answer to a visit of the status page without the right token: a form that asks for it. */
export function renderTokenPage(reason: TokenPageReason): string {
  return [
    '<!doctype html><html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">',
    '<title>Token required</title><style>',
    'body{margin:0;font:16px/1.45 system-ui,sans-serif;color:#1d232a;background:#f4f6f8}',
    'main{max-width:30rem;margin:0 auto;padding:1rem}input,button{font:inherit;padding:.4rem;margin:.2rem 0}',
    'input{width:100%}</style></head><body><main><h1>Token required</h1>',
    notes[reason],
    '<p>This page shows the chain to whoever holds the webhook secret (<code>WEBHOOK_SECRET</code>).</p>',
    '<form method="post" action="/"><label for="token">Token</label>',
    '<input id="token" name="token" type="password" autocomplete="current-password" required>',
    '<button type="submit">Open</button></form></main></body></html>',
  ].join('');
}
