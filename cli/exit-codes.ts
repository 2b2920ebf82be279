/** Exit codes scripts can rely on (also printed by `sluice --help`). */
export const EXIT = {
  ok: 0,
  /** The API answered with a problem (4xx/5xx other than 404). */
  apiError: 1,
  /** Bad command, option, argument or local input (commander or the CLI itself). */
  usage: 2,
  /** The endpoint could not be reached (connection refused, DNS, TLS, timeout). */
  network: 3,
  /** The API answered 404: unknown flow, connection, message or failed event (also one named by a list filter). */
  notFound: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  API error (the API answered a 4xx/5xx problem, a refused token included; its detail and code go to stderr)
  2  usage error (unknown command, bad option or argument, unreadable local file, no credentials)
  3  cannot reach the endpoint (network error or timeout)
  4  not found (the API answered 404, or a --flow or --connection filter names none)`;
