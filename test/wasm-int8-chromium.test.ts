/**
 * The relaxed build's int8 kernels in headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core), where the engine runs relaxed SIMD as the proposal ships it. Node 20's engine
 * (the CI's) computes another sum for the relaxed dot's opcode, so there the module's probe
 * (kernels-quant-relaxed.ts) sends every dense int8 conv to the `dot_i16x8_s` body, and only a
 * browser runs the u8-dot body. Each case of test/int8-cases.ts is compiled here, run in the page
 * through the runtime's public `load` (relaxed build, one thread) and compared with the reference
 * interpreter bit for bit, like test/wasm-int8.test.ts does in Node. The page also reports the
 * probe's answer: where the CPU has no exact u8 dot (no AVX-VNNI), the cases check the fallback
 * body and the test named for the u8 body is skipped, saying so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { interpret } from '../ir/interpreter.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { CASES, build } from './int8-cases.js';

const CHROMIUM = '/usr/bin/chromium';
/** x86 CPUs with AVX-VNNI: there V8 lowers the relaxed dot to vpdpbusd, exact for u8 · i8. */
const VNNI = existsSync('/proc/cpuinfo') && /\bavx_vnni\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));

interface PageRun { dtype: string; data: number[] }

describe.skipIf(!existsSync(CHROMIUM))('wasm int8 kernels in headless Chromium (relaxed build)', () => {
  let browser: Browser, page: Page, probe: number;
  beforeAll(async () => {
    const bundle = await esbuild.build({
      entryPoints: [join(import.meta.dirname, '../runtime/index.ts')], bundle: true, format: 'iife', globalName: 'cnnc',
      platform: 'browser', target: 'es2022', write: false, logLevel: 'error',
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
    page = await browser.newPage();
    await page.setContent('<!doctype html><meta charset="utf-8"><title>int8</title>');
    await page.addScriptTag({ content: bundle.outputFiles[0].text });
    // the probe of one compiled case's relaxed module, instantiated on its own
    const { g } = build(CASES[0], 1);
    const a = decodeArtifact((await compile(g, 'wasm')).save());
    probe = await page.evaluate(async ({ bytes, pages }) => {
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes), { env: { memory } });
      return (instance.exports.u8dot_works as () => number)();
    }, { bytes: Array.from(a.sections.module_relaxed), pages: Math.ceil((a.header.plan as { memoryBytes: number }).memoryBytes / 65536) });
  }, 120_000);
  afterAll(async () => { await browser?.close(); });

  async function runInPage(bytes: Uint8Array, x: { dtype: string; shape: number[]; data: ArrayLike<number> }): Promise<PageRun> {
    return page.evaluate(async ({ bytes, x }) => {
      const rt = (window as unknown as { cnnc: typeof import('../runtime/index.js') }).cnnc;
      const s = await rt.load(new Uint8Array(bytes), { backend: 'wasm', simd: 'relaxed', threads: 1 });
      const ctor = x.dtype === 'u8' ? Uint8Array : Int8Array;
      const out = Object.values(await s.run({ x: rt.tensor(x.dtype as 'u8', x.shape, ctor.from(x.data)) }))[0];
      return { dtype: out.dtype, data: Array.from(out.data as ArrayLike<number>) };
    }, { bytes: Array.from(bytes), x: { dtype: x.dtype, shape: x.shape, data: Array.from(x.data) } });
  }

  it(`the relaxed module's u8-dot probe ${VNNI ? 'answers 1 (exact) on this AVX-VNNI CPU' : 'answers 0 or 1 (no AVX-VNNI on this CPU: either may be right)'}`, () => {
    if (VNNI) expect(probe).toBe(1);
    else expect([0, 1]).toContain(probe);
  });

  it(`every int8 case is bit-identical to the reference on the relaxed build (${VNNI ? 'the u8-dot body' : 'the body the probe chose'})`, async () => {
    for (const c of CASES) {
      const { g, x } = build(c, c.name.length * 31 + 7);
      const want = Array.from(interpret(g, { x })[g.outputs[0]].data as ArrayLike<number>);
      const got = await runInPage((await compile(g, 'wasm')).save(), { dtype: x.dtype, shape: [...x.shape], data: x.data as ArrayLike<number> });
      expect(got.dtype, c.name).toBe(c.out);
      expect(got.data, c.name).toEqual(want);
    }
  }, 300_000);
});
