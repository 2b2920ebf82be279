/** Rules for identifiers that partners and operators choose (SPEC "Partner API"). */

/** GUIDs and chain ids: 1–128 characters from `A-Z a-z 0-9 . _ : -`. */
export const MESSAGE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Partner, flow and connection ids: they appear in queue group ids and keys. */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Correlation ids are echoed to targets: printable ASCII only. */
export const CORRELATION_ID_PATTERN = /^[\x21-\x7e]{1,256}$/;

/** Any single header value beyond this is rejected before it reaches storage. */
export const MAX_HEADER_VALUE_BYTES = 8 * 1024;

/** RFC 3339 date-time with a mandatory offset. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 date-time, refusing impossible dates (Feb 31) that `Date` would roll over. */
export function parseRfc3339(value: string): Date | undefined {
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const offsetOk = match[9] === undefined || (Number(match[9]) < 24 && Number(match[10]) < 60);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 60 || !offsetOk) {
    return undefined;
  }
  const date = new Date(value.replace(' ', 'T'));
  return Number.isNaN(date.getTime()) ? undefined : date;
}
