import { verifyGitHubSignature } from '../../../webapp/github/verify-github-signature';
import { signBody } from '../../helpers/github';

const secret = 'gh-webhook-secret-0123456789abcdef';
const body = Buffer.from(JSON.stringify({ action: 'completed', workflow_run: { id: 4242 } }));

describe('verifyGitHubSignature', () => {
  it("takes the signature GitHub's docs give for their test values", () => {
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries (its test values)
    expect(
      verifyGitHubSignature(
        "It's a Secret to Everybody",
        Buffer.from('Hello, World!'),
        'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
      ),
    ).toBe(true);
  });

  it('takes the HMAC-SHA256 of the raw body with the secret, in either case of hex', () => {
    const header = signBody(secret, body);
    expect(verifyGitHubSignature(secret, body, header)).toBe(true);
    expect(verifyGitHubSignature(secret, body, `sha256=${header.slice(7).toUpperCase()}`)).toBe(
      true,
    );
  });

  it('refuses a signature made with another secret', () => {
    expect(verifyGitHubSignature(secret, body, signBody(`${secret}x`, body))).toBe(false);
    expect(verifyGitHubSignature(secret, body, signBody('', body))).toBe(false);
  });

  it('refuses the signature of a body changed by one byte, or of the same JSON written otherwise', () => {
    const header = signBody(secret, body);
    const changed = Buffer.from(body);
    changed[changed.length - 2] ^= 1;
    expect(verifyGitHubSignature(secret, changed, header)).toBe(false);
    // The signature is over the bytes as they came, not over what they parse to.
    const respaced = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expect(verifyGitHubSignature(secret, respaced, header)).toBe(false);
    expect(verifyGitHubSignature(secret, Buffer.concat([body, Buffer.from('\n')]), header)).toBe(
      false,
    );
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['the hex without its sha256= prefix', signBody(secret, body).slice(7)],
    ['the old X-Hub-Signature form (sha1=)', `sha1=${signBody(secret, body).slice(7, 47)}`],
    ['the right hex behind sha1=', `sha1=${signBody(secret, body).slice(7)}`],
    ['a signature cut short', signBody(secret, body).slice(0, -2)],
    ['a signature with a byte more', `${signBody(secret, body)}00`],
    ['a signature that is not hex', `sha256=${'z'.repeat(64)}`],
    ['blanks around it', ` ${signBody(secret, body)} `],
    ['the header twice', [signBody(secret, body), signBody(secret, body)]],
  ])('refuses %s', (_what, header) => {
    expect(verifyGitHubSignature(secret, body, header)).toBe(false);
  });

  it('refuses any signature of an empty body but the right one', () => {
    const empty = Buffer.alloc(0);
    expect(verifyGitHubSignature(secret, empty, signBody(secret, body))).toBe(false);
    expect(verifyGitHubSignature(secret, empty, signBody(secret, empty))).toBe(true);
  });
});
