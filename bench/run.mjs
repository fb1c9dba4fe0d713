// `npm run bench`: every benchmark in one run, each printed with its baseline or ratio.
// BENCH_SECONDS (default 5) sets the length of each HTTP load run.
import { cpus } from 'node:os';
import { decisions } from './decisions.mjs';
import { pdpHttp } from './pdp-http.mjs';
import { credentials } from './credentials.mjs';
import { gateway } from './gateway.mjs';
import { hotpath } from './hotpath.mjs';
import { store } from './store.mjs';
import { scaleout } from './scaleout.mjs';
import { httpApi } from './httpapi.mjs';
import { review } from './review.mjs';
import { report } from './report.mjs';
import { observability } from './observability.mjs';
import { provenance } from './provenance.mjs';
import { efficacy } from './efficacy/run.mjs';

const only = process.argv.slice(2);
const want = (name) => only.length === 0 || only.includes(name);
console.log(`Mandate benchmarks — node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}\n`);
if (want('decisions')) {
  await decisions();
  console.log();
}
if (want('pdp')) {
  await pdpHttp();
  console.log();
}
if (want('gateway')) {
  await gateway();
  console.log();
}
if (want('hotpath')) {
  await hotpath();
  console.log();
}
if (want('store')) {
  await store();
  console.log();
}
if (want('scaleout')) {
  await scaleout();
  console.log();
}
if (want('httpapi')) {
  await httpApi();
  console.log();
}
if (want('efficacy')) {
  await efficacy();
  console.log();
}
if (want('provenance')) {
  await provenance();
  console.log();
}
if (want('observability')) {
  await observability();
  console.log();
}
if (want('review')) {
  await review();
  console.log();
}
if (want('report')) {
  await report();
  console.log();
}
if (want('credentials')) {
  await credentials();
  console.log();
}
