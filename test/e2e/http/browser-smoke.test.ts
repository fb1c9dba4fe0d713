// The browser used by tests works: Debian's chromium, driven by playwright-core, submits a plain
// HTML form to a local server and follows the 302 that answers it — with JavaScript turned off,
// so the flow needs none.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../../helpers/browser.js';

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

let server: Server;
let base: string;
let browser: Browser;
/** The bodies of the POSTs the server received, in order. */
const posted: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const html = (title: string, body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`);
    };
    if (req.method === 'GET' && url.pathname === '/form') {
      // The script would retitle the page if it ran: with JavaScript off it must not.
      html('Form', '<script>document.title = "script ran"</script>' +
        '<form method=post action=/submit><input name=x><button type=submit>Go</button></form>');
    } else if (req.method === 'POST' && url.pathname === '/submit') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        posted.push(body);
        const x = new URLSearchParams(body).get('x') ?? '';
        res.writeHead(302, { location: `/done?x=${encodeURIComponent(x)}` });
        res.end();
      });
    } else if (req.method === 'GET' && url.pathname === '/done') {
      html('Done', `<p id=x>${escapeHtml(url.searchParams.get('x') ?? '')}</p>`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  if (server) {
    server.closeAllConnections();
    server.close();
  }
});

describe('browser smoke test (system chromium via playwright-core)', () => {
  it('fills and submits a form without JavaScript and follows the redirect', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/form`);
      expect(await page.title()).toBe('Form'); // the inline script did not run

      const value = 'hello world & ü';
      await page.locator('input[name=x]').fill(value);
      await page.getByRole('button', { name: 'Go' }).click();
      await page.waitForURL((u) => u.pathname === '/done');

      const final = new URL(page.url());
      expect(final.origin).toBe(base);
      expect(final.pathname).toBe('/done');
      expect(final.searchParams.get('x')).toBe(value);
      expect(await page.locator('#x').textContent()).toBe(value);
      expect(posted).toEqual([new URLSearchParams({ x: value }).toString()]);
    } finally {
      await context.close();
    }
  });
});
