/** Plain-text output: aligned tables and key/value blocks, no dependencies. */

export type Cell = string | number | boolean | null | undefined;

export interface Column<T> {
  header: string;
  value: (row: T) => Cell;
  /** Cut longer cells with an ellipsis. */
  max?: number;
}

export function cell(value: Cell, max?: number): string {
  if (value === undefined || value === null || value === '') return '-';
  const text = String(value).replace(/\s+/g, ' ');
  return max !== undefined && text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Columns separated by two spaces, the last one not padded. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row), column.max)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** `key: value` lines with the values aligned. */
export function keyValues(pairs: readonly [string, Cell][]): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length)) + 1;
  return pairs.map(([key, value]) => `${`${key}:`.padEnd(width)}  ${cell(value)}`).join('\n');
}

export function list(values: readonly string[] | undefined): string {
  return values && values.length > 0 ? values.join(', ') : '-';
}

/** Where the CLI writes: the process streams, or a test's buffers. */
export interface IO {
  stdout(chunk: string | Uint8Array): void;
  stderr(chunk: string): void;
}

export const processIO: IO = {
  stdout: (chunk) => void process.stdout.write(chunk),
  stderr: (chunk) => void process.stderr.write(chunk),
};

export interface Output {
  json: boolean;
  /** A line on stdout. */
  out(text: string): void;
  /** Raw bytes on stdout. */
  bytes(chunk: Uint8Array): void;
  /** A line on stderr. */
  err(text: string): void;
}

const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

export function outputTo(io: IO, json: boolean): Output {
  return {
    json,
    out: (text) => io.stdout(line(text)),
    bytes: (chunk) => io.stdout(chunk),
    err: (text) => io.stderr(line(text)),
  };
}

/**
 * Prints the API's JSON exactly with `--json`, else the human rendering.
 * An empty API body prints nothing in JSON mode.
 */
export function emit(output: Output, raw: string, human: () => string): void {
  if (output.json) {
    if (raw.length > 0) output.out(raw);
  } else {
    output.out(human());
  }
}
