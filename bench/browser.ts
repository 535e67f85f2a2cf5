/**
 * The WASM benchmark in a real browser (`npm run bench -- --target browser`, not a test): headless
 * Debian Chromium (playwright-core), the page served on 127.0.0.1 with COOP/COEP so that it is
 * cross-origin isolated (SharedArrayBuffer: threads). For 1 and 2 threads, one page each
 * (bench/browser-page.ts): cnnc (wasm artifact, public runtime API), LiteRT.js (XNNPACK, relaxed
 * SIMD; its threaded build for 2) on the .tflite copies and onnxruntime-web (wasm EP) on the .onnx,
 * interleaved per round, medians, every output checked against PyTorch's.
 * Writes its table into docs/benchmarks.md (own section).
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { compile } from '../index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';
import { serve } from '../examples/web/serve.js';
import type { PageResult } from './browser-page.js';
import { LITERT_MODELS } from './litert.js';
import type { BenchOptions } from './wasm.js';
import { copyOrtWeb, writeDocSection } from './common.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MODELS = path.resolve(ROOT, '../shared/models');
const CHROMIUM = '/usr/bin/chromium';
const THREADS = [1, 2];

/** Compiles the models and writes the page, its bundle and the peers' wasm files into `dir`. */
async function buildPage(dir: string, names: readonly string[]): Promise<void> {
  const require = createRequire(import.meta.url);
  const entries = [];
  for (const name of names) {
    const src = path.join(MODELS, name), dst = path.join(dir, 'models', name);
    mkdirSync(dst, { recursive: true });
    const g = loadOnnxFile(path.join(src, 'model.onnx'));
    writeFileSync(path.join(dst, 'model.cnnc'), (await compile(g, 'wasm')).save());
    for (const f of ['model.onnx', 'model.tflite']) copyFileSync(path.join(src, f), path.join(dst, f));
    copyFileSync(path.join(src, 'test_data_set_0/input_0.bin'), path.join(dst, 'input.bin'));
    copyFileSync(path.join(src, 'test_data_set_0/output_0.bin'), path.join(dst, 'expected.bin'));
    entries.push({ name, shape: g.type(g.inputs[0]).shape });
  }
  writeFileSync(path.join(dir, 'models.json'), JSON.stringify(entries));
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>cnnc wasm bench</title><script type="module" src="./bundle.js"></script>');
  cpSync(path.join(path.dirname(require.resolve('@litertjs/core')), '../wasm'), path.join(dir, 'litert'), { recursive: true });
  copyOrtWeb(dir);
  await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, 'browser-page.ts')], bundle: true, format: 'esm', platform: 'browser',
    target: 'es2022', outfile: path.join(dir, 'bundle.js'), logLevel: 'error',
  });
}

export async function benchBrowser(opt: BenchOptions): Promise<string> {
  if (!existsSync(CHROMIUM)) throw new Error(`the browser benchmark needs Debian's chromium at ${CHROMIUM} (bash scripts/setup.sh installs it)`);
  const names = (opt.models ?? [...LITERT_MODELS]).filter((n) => existsSync(path.join(MODELS, n, 'model.tflite')));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnnc-bench-web-'));
  const load0 = os.loadavg()[0];
  await buildPage(dir, names);
  const server = await serve(dir);
  const port = (server.address() as { port: number }).port;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  const pages: PageResult[] = [];
  try {
    for (const threads of THREADS) {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${port}/?threads=${threads}&runs=${opt.runs}&warmup=${opt.warmup}`);
      await page.waitForFunction(() => 'benchResult' in window || 'benchError' in window, undefined, { timeout: 1_800_000, polling: 1000 });
      const err = await page.evaluate(() => (window as unknown as { benchError?: string }).benchError);
      if (err) throw new Error(`browser bench page (threads ${threads}): ${err}`);
      pages.push(await page.evaluate(() => (window as unknown as { benchResult: PageResult }).benchResult));
      await page.close();
      process.stderr.write(`browser bench: ${threads} thread(s) done\n`);
    }
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const text = table(pages, names, opt, load0, os.loadavg()[0]);
  if (opt.write) writeDocSection('browser-bench', `## WebAssembly in headless Chromium: cnnc vs LiteRT.js vs onnxruntime-web, 1 and 2 threads\n\n\`npm run bench -- --target browser\` (bench/browser.ts).\n\n${text}`);
  return text;
}

function table(pages: PageResult[], names: string[], opt: BenchOptions, load0: number, load1: number): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const out = [
    `Headless Chromium (${CHROMIUM}), page cross-origin isolated: ${pages.every((p) => p.isolated) ? 'yes' : 'NO'}, ` +
      `navigator.hardwareConcurrency ${pages[0]?.cores}; batch 1; median of ${opt.runs} interleaved rounds after ${opt.warmup} warm-up; ` +
      `load average ${f(load0, 2)} → ${f(load1, 2)}. Errors: max |y − PyTorch| / max |PyTorch|.`,
    '',
    '| model | threads | cnnc ms | LiteRT.js ms | onnxruntime-web ms | cnnc / LiteRT.js | cnnc / ort-web | max rel. error cnnc / LiteRT / ort |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const name of names) {
    for (const p of pages) {
      const m = p.models.find((r) => r.name === name);
      if (!m) continue;
      out.push(`| ${name} | ${p.threads} | ${f(m.cnnc.ms)} | ${f(m.litert.ms)} | ${f(m.ort.ms)} | ${f(m.cnnc.ms / m.litert.ms, 2)}× | ` +
        `${f(m.cnnc.ms / m.ort.ms, 2)}× | ${m.cnnc.err.toExponential(1)} / ${m.litert.err.toExponential(1)} / ${m.ort.err.toExponential(1)} |`);
    }
  }
  const one = pages.find((p) => p.threads === 1), two = pages.find((p) => p.threads === 2);
  if (one && two) {
    out.push('', 'Speed-up of 2 threads over 1 (separate pages, same browser):');
    for (const name of names) {
      const a = one.models.find((r) => r.name === name), b = two.models.find((r) => r.name === name);
      if (a && b) out.push(`- ${name}: cnnc ${f(a.cnnc.ms / b.cnnc.ms, 2)}×, LiteRT.js ${f(a.litert.ms / b.litert.ms, 2)}×, onnxruntime-web ${f(a.ort.ms / b.ort.ms, 2)}×`);
    }
  }
  return out.join('\n');
}

