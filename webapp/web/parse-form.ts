/**
 * The fields of an application/x-www-form-urlencoded body, each name with its values in order.
 * A Map, so that no field name can reach an object's prototype. Bad percent-encoding is a 400.
 */
export function parseForm(text: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodeField(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : decodeField(pair.slice(equals + 1));
    fields.set(name, [...(fields.get(name) ?? []), value]);
  }
  return fields;
}

function decodeField(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw Object.assign(new Error('the form is not valid application/x-www-form-urlencoded'), {
      statusCode: 400,
    });
  }
}
