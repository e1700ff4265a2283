// Headless Chromium for the browser tests and `npm run bench -- --browser`
// (bench/browser.ts): Debian's /usr/bin/chromium driven by playwright-core,
// pages served from a local HTTP server.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';

export const CHROMIUM = process.env.PINSIM_CHROMIUM ?? '/usr/bin/chromium'; // override only to test the tests
export const hasChromium = existsSync(CHROMIUM);
export const inCI = !!process.env.CI;

export const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// path ("/x.js") -> the file to serve, or a string body; anything else 404s.
export type Route = (path: string) => { file: string } | { body: string; type: string } | null;

// headers: sent with every response (e.g. bench/browser.ts's cross-origin
// isolation).
export function serve(route: Route, requests: string[] = [], headers: Record<string, string> = {}): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    requests.push(`${req.method} ${path}`);
    const r = route(path);
    if (!r) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const body = 'file' in r ? readFileSync(r.file) : r.body;
    const type = 'file' in r ? CONTENT_TYPES[r.file.slice(r.file.lastIndexOf('.'))] ?? 'application/octet-stream' : r.type;
    res.writeHead(200, { ...headers, 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// Runs fn with a fresh page of a headless Chromium and the server's base URL.
export async function withChromium<T>(route: Route, fn: (page: Page, base: string, requests: string[]) => Promise<T>,
  headers: Record<string, string> = {}): Promise<T> {
  const requests: string[] = [];
  const server = await serve(route, requests, headers);
  let browser: Browser | undefined;
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    return await fn(await browser.newPage(), base, requests);
  } finally {
    await browser?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
