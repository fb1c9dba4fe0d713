// Reads a Prometheus scrape the way a scraper does, with the Prometheus project's own reference
// parser: `prometheus_client.parser.text_string_to_metric_families` of the official Python client
// (Debian's python3-prometheus-client, run by the system python; .ci/run installs it).
//
// Why not an npm parser: parse-prometheus-text-format (the usual one, unmaintained since 2019)
// drops the labels, `_sum` and `_count` of every labelled histogram and keeps the buckets of the
// last series only (its open issue #13, fix PR #8 never merged); `exposition` matches lines with
// regular expressions. Both would let these tests pass on wrong output. And a parser written here
// would only agree with the code it checks.

import { execFileSync } from 'node:child_process';

const PYTHON = '/usr/bin/python3';
const SCRIPT = `import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    sys.exit("the Prometheus text-format parser is missing: apt-get install python3-prometheus-client (Debian)")
json.dump([{"name": f.name, "type": f.type, "samples": [[s.name, s.labels, repr(s.value)] for s in f.samples]} for f in text_string_to_metric_families(sys.stdin.read())], sys.stdout)`;

export interface Sample {
  /** The series name (`x_total`, `x_bucket`, `x_count` …). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  /** The family name (a counter's without `_total`). */
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped' | string;
  samples: Sample[];
}

export function parsePrometheusText(text: string): Family[] {
  const out = execFileSync(PYTHON, ['-c', SCRIPT], { input: text, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const families = JSON.parse(out) as Array<{ name: string; type: string; samples: Array<[string, Record<string, string>, string]> }>;
  const num = (v: string) => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v));
  return families.map((f) => ({ name: f.name, type: f.type, samples: f.samples.map(([name, labels, value]) => ({ name, labels, value: num(value) })) }));
}

/** The samples of series `name` whose labels include `match`. */
export function samplesOf(families: Family[], name: string, match: Record<string, string> = {}): Sample[] {
  return families.flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}
