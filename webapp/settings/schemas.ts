import { z } from 'zod';

// What the settings' values may be, and how their variables' text is read.

export const asList = (value: string) => value.split(',').map((item) => item.trim());
// Decimal only: Number() also reads '0x10', '0b101', '0o7' and 'Infinity'.
export const asNumber = (value: string) =>
  /^[+-]?(\d+\.?\d*|\.\d+)$/.test(value.trim()) ? Number(value) : Number.NaN;
export const asFlag = (value: string) =>
  /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;

export const seconds = (min: number, max: number) =>
  z
    .number({ error: 'must be a number of seconds' })
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} seconds`);

/** Seconds as a person writes them, milliseconds as the app works in them. */
export const inMilliseconds = <I>(schema: z.ZodType<number, I>) =>
  schema.transform((value) => Math.round(value * 1000));

export const optionalToken = z.string().regex(/^\S+$/, 'must not contain spaces').optional();

export const gitRef = z.string().regex(/^[^\s~^:?*[\\]+$/, 'must be a branch or tag name');

export const httpUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
    message: 'must be an http(s) URL',
  });

// The value is a secret (its password): no message quotes it.
export const postgresUrl = z.string().refine(
  (value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return /^postgres(ql)?:$/.test(url.protocol) && url.hostname !== '';
  },
  {
    message: 'must be a postgres:// URL with a host (postgres://user:password@host:5432/database)',
  },
);
