import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { processRegistry } from './process-metrics.js';

/**
 * The Prometheus metrics of one app instance (docs/metrics.md). Each container
 * has its own registry, so several apps in one process (tests) never share or
 * double-register a metric; the process-wide figures (event-loop delay, memory,
 * CPU) live in one registry per process and are merged in at scrape time.
 *
 * Every metric name starts with `voice_`. Other parts of the runtime add their
 * own figures through `gauge` (read at scrape time) or `counter` /
 * `histogram` (moved as things happen), never through prom-client directly,
 * so the domain code stays free of it.
 */
export const METRIC_PREFIX = 'voice_';

/** One labelled value of a gauge read at scrape time. */
export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

export interface GaugeDefinition {
  /** Without the `voice_` prefix. */
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Read on every scrape: one number, or one sample per label set. A throw skips the gauge for that scrape. */
  read: () => number | readonly GaugeSample[] | Promise<number | readonly GaugeSample[]>;
}

export interface MetricDefinition {
  /** Without the `voice_` prefix. */
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export class Metrics {
  readonly registry = new Registry();

  /** A gauge whose value is read from `read` on every scrape (queue depths, breaker states, sessions held). */
  gauge(def: GaugeDefinition): void {
    const { read } = def;
    new Gauge({
      name: METRIC_PREFIX + def.name,
      help: def.help,
      labelNames: [...(def.labelNames ?? [])],
      registers: [this.registry],
      async collect() {
        const got = await read();
        this.reset();
        if (typeof got === 'number') this.set(got);
        else for (const s of got) this.set(s.labels ?? {}, s.value);
      },
    });
  }

  counter<L extends string = string>(def: MetricDefinition & { labelNames?: readonly L[] }): Counter<L> {
    return new Counter<L>({ name: METRIC_PREFIX + def.name, help: def.help, labelNames: [...(def.labelNames ?? [])], registers: [this.registry] });
  }

  /**
   * A counter mirroring running totals kept elsewhere (a plain object the hot
   * path increments, a job runner's failure counts): read on every scrape, so
   * the hot path never calls into prom-client. `read` returns one total or one
   * per label set; a total that went down (its owner restarted) is not subtracted.
   */
  counterOf(def: MetricDefinition & { read: () => number | readonly GaugeSample[] | Promise<number | readonly GaugeSample[]> }): void {
    const { read } = def;
    const reported = new Map<string, number>();
    new Counter({
      name: METRIC_PREFIX + def.name,
      help: def.help,
      labelNames: [...(def.labelNames ?? [])],
      registers: [this.registry],
      async collect() {
        const got = await read();
        for (const s of typeof got === 'number' ? [{ value: got }] : got) {
          const labels = s.labels ?? {};
          const key = JSON.stringify(Object.entries(labels).sort());
          const before = reported.get(key) ?? 0;
          // An increase of 0 still shows the series, so rate() works from the first scrape.
          this.inc(labels, Math.max(0, s.value - before));
          reported.set(key, Math.max(before, s.value));
        }
      },
    });
  }

  histogram<L extends string = string>(def: MetricDefinition & { buckets: number[]; labelNames?: readonly L[] }): Histogram<L> {
    return new Histogram<L>({
      name: METRIC_PREFIX + def.name,
      help: def.help,
      buckets: def.buckets,
      labelNames: [...(def.labelNames ?? [])],
      registers: [this.registry],
    });
  }

  /** The Prometheus text exposition of this instance's metrics and the process's. */
  async render(): Promise<{ contentType: string; body: string }> {
    const merged = Registry.merge([processRegistry(), this.registry]);
    return { contentType: this.registry.contentType, body: await merged.metrics() };
  }
}
