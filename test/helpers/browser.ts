// A real browser for tests: Debian's `chromium` package driven by the npm package `playwright-core`.
// Playwright's own browser download cannot work on these machines (only Debian's packages and the
// npm registry are reachable), so playwright-core never downloads anything: it is pointed at the
// system chromium that .ci/run installs with apt.

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian (and Ubuntu) put the chromium launcher, in the order tried. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

/** Path of the system chromium (CHROMIUM_PATH env overrides; else /usr/bin/chromium, /usr/bin/chromium-browser); throws an Error saying how to install it (`apt-get install chromium`) if none. */
export function chromiumPath(): string {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!existsSync(override)) throw new Error(`CHROMIUM_PATH is set to ${override}, which does not exist`);
    return override;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `no chromium found (looked at ${CANDIDATES.join(', ')}): install Debian's package with ` +
        '`apt-get install -y --no-install-recommends chromium` (.ci/run does this), or set CHROMIUM_PATH',
    );
  }
  return found;
}

/** Launches headless chromium via playwright-core's `chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', ...] })` (root needs --no-sandbox); returns the Browser. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // Tests run as root, where chromium refuses to start with its sandbox. /dev/shm may be small
    // in containers, and there is no GPU.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    // Below vitest's hookTimeout, so a browser that does not start fails with Playwright's own
    // message (which includes chromium's output) rather than a bare hook timeout.
    timeout: 60_000,
  });
}
