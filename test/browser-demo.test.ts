/**
 * The browser demo in real headless Chromium (Debian's /usr/bin/chromium through playwright-core;
 * WebGPU on SwiftShader with --enable-unsafe-webgpu): builds examples/web into a temp folder,
 * serves it on 127.0.0.1 with COOP/COEP, loads the page, waits for the results, checks the printed
 * outputs against the reference interpreter (f32: 1e-4 relative to max |ref|; SwiftShader computes
 * in f32), says which backend ran, and takes a screenshot (into the temp folder, not committed).
 * One browser for the file: Chromium is slow to start.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { interpret } from '../ir/interpreter.js';
import { buildDemo, demoModels, type DemoModel } from '../examples/web/build.js';
import { serve } from '../examples/web/serve.js';

const CHROMIUM = '/usr/bin/chromium';

interface PageResult { name: string; backend: string; threads: number; adapter?: string; output: number[]; top5: [number, number][]; msPerRun: number }

describe.skipIf(!existsSync(CHROMIUM))('browser demo (examples/web) in headless Chromium', () => {
  let dir: string, server: Server, plainServer: Server, browser: Browser, models: DemoModel[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cnnc-web-'));
    models = demoModels();
    await buildDemo(dir, models);
    server = await serve(dir);
    plainServer = await serve(dir, 0, { isolated: false });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu'] });
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
    plainServer?.close();
  });

  async function runPage(hideWebGpu: boolean, on = server): Promise<{ results: PageResult[]; page: import('playwright-core').Page }> {
    const page = await browser.newPage();
    const logs: string[] = [];
    page.on('console', (m) => logs.push(m.text()));
    if (hideWebGpu) await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined }));
    const addr = on.address();
    await page.goto(`http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`);
    await page.waitForFunction(() => 'cnncResults' in window || 'cnncError' in window, undefined, { timeout: 240_000 });
    const error = await page.evaluate(() => (window as unknown as { cnncError?: string }).cnncError);
    expect(error, `page error; console: ${logs.join('\n')}`).toBeUndefined();
    return { page, results: await page.evaluate(() => (window as unknown as { cnncResults: PageResult[] }).cnncResults) };
  }

  function checkAgainstReference(results: PageResult[]): void {
    expect(results.map((r) => r.name)).toEqual(models.map((m) => m.name));
    for (const [k, m] of models.entries()) {
      const r = results[k];
      const want = interpret(m.graph, { input: m.input }).output.data as Float32Array;
      let mx = 0, err = 0;
      for (let i = 0; i < want.length; i++) { mx = Math.max(mx, Math.abs(want[i])); err = Math.max(err, Math.abs(want[i] - r.output[i])); }
      expect(err / mx, `${m.name} on ${r.backend}`).toBeLessThan(1e-4);
      expect(r.top5[0][0]).toBe(want.indexOf(Math.max(...want)));
    }
  }

  it('where navigator.gpu is absent, falls back to the WASM runtime, threaded on a cross-origin isolated page, and says so', async () => {
    const { page, results } = await runPage(true);
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    for (const r of results) {
      expect(r.backend).toMatch(/^WebAssembly \(no WebGPU adapter; /);
      // the default: one thread per core (capped at 4), here on Web Workers sharing one Memory
      expect(r.threads, r.backend).toBe(Math.min(cores, 4));
    }
    const text = await page.textContent('body');
    expect(text).toContain(`${Math.min(cores, 4)} thread`);
    expect(text).toContain('page is cross-origin isolated');
    checkAgainstReference(results);
  }, 400_000);

  it('on a page served without COOP/COEP (not cross-origin isolated), runs WASM on one thread and says why', async () => {
    const { page, results } = await runPage(true, plainServer);
    for (const r of results) {
      expect(r.threads).toBe(1);
      expect(r.backend).toContain('1 thread: the page is not cross-origin isolated');
    }
    expect(await page.textContent('body')).toContain('page is not cross-origin isolated');
    checkAgainstReference(results);
  }, 400_000);

  it('runs every demo model on WebGPU, says which backend ran, and prints outputs matching the reference interpreter', async () => {
    const { page, results } = await runPage(false);
    const shot = join(dir, 'demo.png');
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`browser demo: ${results.map((r) => `${r.name} on ${r.backend}${r.adapter ? ` [${r.adapter}]` : ''}, ${r.msPerRun.toFixed(1)} ms/run`).join('; ')}; screenshot ${shot}`);
    // With --enable-unsafe-webgpu this Chromium exposes an adapter (SwiftShader): WebGPU must have run.
    for (const r of results) expect(r.backend).toMatch(/^WebGPU/);
    const text = await page.textContent('body');
    for (const r of results) expect(text).toContain(`${r.name}`);
    expect(text).toContain('WebGPU (f32)');
    checkAgainstReference(results);
  }, 400_000);
});
