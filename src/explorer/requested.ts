/**
 * What the explorer's messages name when the verifier's answer is not the one it needs: the
 * request as the browser made it. The page asks for every path relative to its own address
 * (`v1/keys`), so behind a gateway that serves the verifier under a prefix the browser asked
 * for `/chio/v1/keys`; naming the verifier's own `/v1/keys` would send the reader to a path
 * the gateway does not serve, and hide a page opened without the prefix's trailing slash,
 * whose requests resolve outside the prefix. Pure: the page passes its own address.
 */

/** The path and query `relative` resolves to against the page's address (`document.baseURI`). */
export function requestedPath(relative: string, pageUrl: string): string {
  const url = new URL(relative, pageUrl);
  return `${url.pathname}${url.search}`;
}

/** An answer as the page read it: its status and, when it was JSON, its body (attacker-controlled). */
export interface ReadAnswer {
  status: number;
  body?: unknown;
}

/** `GET /chio/v1/keys answered 502`, with `: <error>` when the answer's JSON says one. */
export function describeAnswer(relative: string, pageUrl: string, answer: ReadAnswer): string {
  const error = (answer.body as { error?: unknown } | null | undefined)?.error;
  return `GET ${requestedPath(relative, pageUrl)} answered ${answer.status}${typeof error === 'string' ? `: ${error}` : ''}`;
}
