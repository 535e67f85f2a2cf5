/**
 * The int8 bench's Chromium leg: the same f32 model, int8 artifact and QDQ file as the Node leg
 * (bench/int8.ts), timed in headless Debian Chromium (playwright-core, page served on 127.0.0.1,
 * cross-origin isolated) by bench/int8-page.ts. In Chromium the runtime runs the relaxed-SIMD
 * build, and there (on CPUs whose relaxed dot multiplies u8 exactly: AVX-VNNI) the dense int8
 * convs run the 16-products-per-instruction body of codegen/wasm/kernels-quant-relaxed.ts,
 * which Node 20's engine cannot run.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { serve } from '../examples/web/serve.js';
import { copyOrtWeb } from './common.js';
import type { Int8PageResult } from './int8-page.js';

export const CHROMIUM = '/usr/bin/chromium';

export interface Int8BrowserModel { name: string; shape: number[]; f32: Uint8Array; int8: Uint8Array; qdq: Uint8Array }

export async function benchInt8Browser(models: Int8BrowserModel[], runs: number, warmup: number): Promise<Int8PageResult> {
  if (!existsSync(CHROMIUM)) throw new Error(`the int8 bench's Chromium leg needs Debian's chromium at ${CHROMIUM} (bash scripts/setup.sh installs it)`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnnc-bench-int8-'));
  const server = await serve(dir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
  try {
    for (const m of models) {
      const d = path.join(dir, 'models', m.name);
      mkdirSync(d, { recursive: true });
      writeFileSync(path.join(d, 'f32.cnnc'), m.f32);
      writeFileSync(path.join(d, 'int8.cnnc'), m.int8);
      writeFileSync(path.join(d, 'model.int8.onnx'), m.qdq);
    }
    writeFileSync(path.join(dir, 'models.json'), JSON.stringify(models.map((m) => ({ name: m.name, shape: m.shape }))));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>cnnc int8 bench</title><script type="module" src="./bundle.js"></script>');
    copyOrtWeb(dir);
    await esbuild.build({
      entryPoints: [path.join(import.meta.dirname, 'int8-page.ts')], bundle: true, format: 'esm', platform: 'browser',
      target: 'es2022', outfile: path.join(dir, 'bundle.js'), logLevel: 'error',
    });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/?runs=${runs}&warmup=${warmup}`);
    await page.waitForFunction(() => 'benchResult' in window || 'benchError' in window, undefined, { timeout: 1_800_000, polling: 1000 });
    const err = await page.evaluate(() => (window as unknown as { benchError?: string }).benchError);
    if (err) throw new Error(`int8 browser bench page: ${err}`);
    return await page.evaluate(() => (window as unknown as { benchResult: Int8PageResult }).benchResult);
  } finally {
    await browser.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
