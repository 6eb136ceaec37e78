// parse-prometheus-text-format ships no typings; this is the shape its README documents
// (prom2json-compatible): values are strings as written in the exposition.
declare module "parse-prometheus-text-format" {
  export interface PromTextMetric {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface PromTextFamily {
    name: string;
    help: string;
    type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
    metrics: PromTextMetric[];
  }
  export default function parsePrometheusTextFormat(text: string): PromTextFamily[];
}
