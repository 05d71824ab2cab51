/** Reading a Chio process's /metrics as Prometheus does: over HTTP, in the text format. */

/** GET /metrics on a local port. */
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

/**
 * The value of the sample `name` whose labels include `labels`, summed over every sample that
 * matches (so `{}` totals a counter over all its labels); 0 when none matches.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[3]);
  }
  return total;
}

/**
 * Every sample of a counter or a histogram (its buckets, sum and count) in `text`, by its
 * series (name and labels as written): the values Prometheus takes to go down only when the
 * process restarts.
 */
export function monotonicSamples(text: string): Map<string, number> {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)((?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) continue;
    const histogram = /^(.*)_(bucket|sum|count)$/.exec(m[1]!)?.[1];
    const kind = types.get(m[1]!) ?? (histogram === undefined ? undefined : types.get(histogram));
    if (kind === 'counter' || (kind === 'histogram' && histogram !== undefined)) samples.set(`${m[1]}${m[2]}`, Number(m[3]));
  }
  return samples;
}
