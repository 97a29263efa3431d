/** Whether `zone` is an IANA time zone this Node knows, e.g. UTC or Europe/Paris. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}
