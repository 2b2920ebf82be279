import { existsSync, readFileSync } from 'node:fs';

/**
 * The product contract, read from the SPEC itself (never from the code it checks):
 * `../shared/SPEC.md` beside the checkout, as CI lays it out, or `SLUICE_SPEC`.
 */
export function specText(): string {
  const candidates = [
    ...(process.env.SLUICE_SPEC ? [process.env.SLUICE_SPEC] : []),
    new URL('../../../shared/SPEC.md', import.meta.url).pathname,
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(`SPEC.md not found (looked at ${candidates.join(', ')}); put shared/SPEC.md beside the checkout or set SLUICE_SPEC`);
  }
  return readFileSync(found, 'utf8');
}

/** The text of one `## Heading` section. */
export function specSection(heading: string, text = specText()): string {
  const start = text.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`SPEC has no "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

/** SPEC "Errors": every problem code with its HTTP status ("`code` 400"). */
export function specErrorCodes(text = specText()): Map<string, number> {
  const codes = new Map<string, number>();
  for (const match of specSection('Errors', text).matchAll(/`([a-z][a-z-]*)` (\d{3})/g)) codes.set(match[1]!, Number(match[2]));
  return codes;
}

/** A route as `METHOD /path/{}`: parameter names are the document's choice, so they are blanked. */
export function routeKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path.replace(/\?.*$/, '').replace(/\{\w+\}/g, '{}')}`;
}

/**
 * SPEC "Partner API" and "Operator API" routes: every `` `METHOD /path` `` in a bullet,
 * and the shorthand that follows one (`` `POST /v1/flows/{id}/disable`, `/enable` ``),
 * which repeats the method with the last segment replaced.
 */
export function specRoutes(text = specText()): Set<string> {
  const routes = new Set<string>();
  const body = `${specSection('Partner API', text)}\n${specSection('Operator API', text)}`;
  const paragraphs = body.split(/\n(?=- |`[A-Z]+ \/)|\n\n/);
  for (const paragraph of paragraphs) {
    let last: { method: string; path: string } | undefined;
    for (const match of paragraph.replace(/\n\s*/g, ' ').matchAll(/`(?:(GET|PUT|POST|DELETE|PATCH) )?(\/[^`\s]*)`/g)) {
      const [, method, path] = match;
      if (method) {
        last = { method, path: path! };
        routes.add(routeKey(method, path!));
      } else if (last && /^\/[a-z-]+$/.test(path!)) {
        routes.add(routeKey(last.method, last.path.replace(/\/[^/]+$/, path!)));
      }
    }
  }
  return routes;
}
