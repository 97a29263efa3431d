import { createPrivateKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';

/**
 * GITHUB_APP_ID: the App ID its settings page shows. The Client ID (Iv1.…) also names an App in
 * a JWT, but a number is what every GitHub Enterprise Server takes.
 */
export const appIdSchema = z
  .string()
  .trim()
  .regex(
    /^[1-9]\d{0,15}$/,
    'must be the App ID (a whole number, on its settings page), not its Client ID',
  );

/** GITHUB_APP_PRIVATE_KEY as a setting: the key, or one problem that never quotes it. */
export const appKeySchema = z.string().transform((text, context): KeyObject => {
  const read = parseAppKey(text);
  if ('problem' in read) {
    context.addIssue({ code: 'custom', message: read.problem });
    return z.NEVER;
  }
  return read.key;
});

/**
 * The App's private key from GITHUB_APP_PRIVATE_KEY, in any form it survives being pasted in:
 * the .pem GitHub gives (PKCS#1) or PKCS#8, with real newlines, with `\n` written out on one line,
 * with spaces for newlines, quoted, or the whole file base64-encoded. Throws an Error that says
 * what is wrong and never holds any of the text.
 */
export function readAppKey(text: string): KeyObject {
  const read = parseAppKey(text);
  if ('problem' in read) throw new Error(`GITHUB_APP_PRIVATE_KEY: ${read.problem}`);
  return read.key;
}

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

function parseAppKey(text: string): { key: KeyObject } | { problem: string } {
  let value = unquote(text.trim()).replace(/\\r/g, '').replace(/\\n/g, '\n');
  if (value === '') return { problem: "is empty: it must hold the text of the App's .pem file" };
  if (!value.includes('-----BEGIN')) {
    const decoded = fromBase64(value);
    if (decoded === undefined || !decoded.includes('-----BEGIN')) {
      return {
        problem:
          "has no -----BEGIN RSA PRIVATE KEY----- line: it must hold the text of the App's .pem file (its contents, not its name)",
      };
    }
    value = decoded;
  }
  const block = pemBlock.exec(value);
  if (block === null) {
    return { problem: 'is cut short: its -----BEGIN line has no matching -----END line' };
  }
  const label = block[1] as string;
  const body = block[2] as string;
  if (/PUBLIC KEY|CERTIFICATE/.test(label)) {
    return { problem: `is a ${label.toLowerCase()}, not the App's private key` };
  }
  if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(body)) {
    return {
      problem: 'is encrypted with a passphrase: give the .pem file GitHub generated, as it is',
    };
  }
  if (label === 'OPENSSH PRIVATE KEY') {
    return { problem: "is in OpenSSH's format: give the .pem file GitHub generated" };
  }
  if (label !== 'RSA PRIVATE KEY' && label !== 'PRIVATE KEY') {
    return { problem: `is a ${label.toLowerCase()}, not an RSA private key` };
  }
  // Newlines lost on the way (spaces instead, or none) are put back: the body is base64 alone.
  const base64 = body.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
    return { problem: 'is damaged: the text between its BEGIN and END lines is not base64' };
  }
  const lines = base64.match(/.{1,64}/g) ?? [];
  const pem = `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    // OpenSSL's own words are left out: they are about bytes of the key.
    return { problem: 'is not a readable private key: it is damaged or cut short' };
  }
  if (key.asymmetricKeyType !== 'rsa') {
    return {
      problem: `is not an RSA key (${String(key.asymmetricKeyType)}), and a GitHub App's key is RSA`,
    };
  }
  return { key };
}

function unquote(text: string): string {
  const quoted = /^(["'])([\s\S]*)\1$/.exec(text);
  return quoted === null ? text : (quoted[2] as string).trim();
}

function fromBase64(text: string): string | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64').toString('utf8');
}
