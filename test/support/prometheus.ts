import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/**
 * A /metrics body parsed with an independent Prometheus text-format parser,
 * with lookups for assertions. Throws when the text does not parse.
 */
export interface Scrape {
  names: string[];
  type(name: string): string | undefined;
  /** A counter or gauge sample; labels must match exactly. Undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** A histogram's count and sum (unlabelled). */
  histogram(name: string): { count: number; sum: number; buckets: Record<string, number> } | undefined;
}

export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  const family = (name: string) => families.find((f) => f.name === name);
  const sameLabels = (a: Record<string, string> = {}, b: Record<string, string> = {}) =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  return {
    names: families.map((f) => f.name),
    type: (name) => family(name)?.type,
    value(name, labels) {
      const s = family(name)?.metrics.find((m) => sameLabels(m.labels, labels));
      return s?.value === undefined ? undefined : Number(s.value);
    },
    histogram(name) {
      const s = family(name)?.metrics[0];
      if (!s || s.count === undefined) return undefined;
      return {
        count: Number(s.count),
        sum: Number(s.sum),
        buckets: Object.fromEntries(Object.entries(s.buckets ?? {}).map(([k, v]) => [k, Number(v)])),
      };
    },
  };
}
