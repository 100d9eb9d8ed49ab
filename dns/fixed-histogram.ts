// A real Prometheus histogram (buckets, _sum, _count) read at scrape time from counters the query path
// keeps in plain arrays: the hot path does one comparison loop and one increment instead of
// prom-client's observe(). Registered with registry.registerMetric.
import type { MetricValue } from 'prom-client';

export interface BucketCounts {
  /** Per bucket (not cumulative), one more than `bounds` (the last is +Inf). */
  buckets: ArrayLike<number>;
  sum: number;
  count: number;
}

export function fixedBucketHistogram(name: string, help: string, bounds: readonly number[], read: () => BucketCounts) {
  return {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset(): void {},
    get() {
      const { buckets, sum, count } = read();
      const values: MetricValue<string>[] = [];
      let cumulative = 0;
      bounds.forEach((le, i) => {
        cumulative += buckets[i]!;
        values.push({ labels: { le }, value: cumulative, metricName: `${name}_bucket` } as MetricValue<string>);
      });
      cumulative += buckets[bounds.length]!;
      values.push({ labels: { le: '+Inf' }, value: cumulative, metricName: `${name}_bucket` } as MetricValue<string>);
      values.push({ labels: {}, value: sum, metricName: `${name}_sum` } as MetricValue<string>);
      values.push({ labels: {}, value: count, metricName: `${name}_count` } as MetricValue<string>);
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
}
