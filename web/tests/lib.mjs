// Shared helpers of the UI tests: Debian's Chromium driven by
// playwright-core, JSON from the center's API (the independent source the
// tests compare the page with), and a tiny check/report harness whose last
// line is "N passed, N failed".
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

// Flags for a closed network: no background or component traffic.
const args = [
  '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--disable-dev-shm-usage',
];

export async function launch({ width = 1400, height = 900 } = {}) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args, headless: true });
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { browser, context, page, errors };
}

export async function api(base, path, params = {}) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
  const res = await fetch(u);
  const body = await res.text();
  if (!res.ok) throw new Error(`GET ${u}: ${res.status} ${body}`);
  return JSON.parse(body);
}

// dataRange spans the replayed data (the API's extent), "to" exclusive.
export async function dataRange(base) {
  const e = await api(base, '/api/v1/extent');
  if (!e.from || !e.to) throw new Error('the center has no stored data');
  const to = new Date(Math.ceil(Date.parse(e.to) / 1000) * 1000 + 1000);
  return { from: new Date(Math.floor(Date.parse(e.from) / 1000) * 1000).toISOString(), to: to.toISOString() };
}

let passed = 0;
let failed = 0;

// check records one assertion; a failed one is printed and counted, and
// the run goes on (so one run reports every difference).
export function check(cond, message) {
  if (cond) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${message}`);
  }
  return !!cond;
}

export function shotPath(name) {
  const dir = process.env.WIREWATCH_SHOTS || 'bench/out/ui';
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}

export async function main(fn) {
  try {
    await fn();
  } catch (e) {
    failed++;
    console.error(`FAIL: ${e && e.stack ? e.stack : e}`);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
