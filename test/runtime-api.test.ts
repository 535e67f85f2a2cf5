/**
 * The runtime's public loading API (runtime/index.ts, runtime/wasm-entry.ts): every source `load`
 * accepts, backend preference and fallback, onProgress events (WebGPU pipelines included),
 * profile(), run() feeds in cnnc, onnxruntime and typed-array form, and the CRC-32 both ways.
 * Every run is checked against the reference interpreter (f32, 1e-4 of max |ref|).
 */
import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { build } from 'esbuild';
import { Tensor as OrtTensor } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compile, Model } from '../index.js';
import { interpret } from '../ir/interpreter.js';
import { crc32, crc32Table, decodeArtifact } from '../runtime/artifact.js';
import { CnncError } from '../runtime/errors.js';
import { load, type LoadEvent, type Session } from '../runtime/index.js';
import { load as loadWasmOnly } from '../runtime/wasm-entry.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { gpuContext } from '../runtime/webgpu/device.js';
import { buildFakeDriver, emulationAvailable } from '../codegen/cuda/emu.js';
import { compileCuda } from '../codegen/cuda/index.js';
import { findNvcc } from '../codegen/cuda/nvcc.js';
import { runPipeline } from '../passes/pipeline.js';

function tinyModel() {
  const m = new Model('tiny', { seed: 3 });
  let x = m.input([1, 3, 16, 16]);
  x = m.relu(m.batchNorm2d(m.conv2d(x, 8, 3, { padding: 1 })));
  x = m.maxPool2d(m.conv2d(x, 8, 3, { padding: 1 }), 2);
  m.output(m.linear(m.flatten(m.adaptiveAvgPool2d(x, 1)), 10));
  return m.build();
}

const graph = tinyModel();
const data = Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => Math.sin(i * 0.13));
const input = tensor('f32', [1, 3, 16, 16], data);
const want = interpret(graph, { input }).output.data as Float32Array;
let wasmBytes: Uint8Array, wgslBytes: Uint8Array, dir: string;

function expectReference(out: Record<string, Tensor>): void {
  const got = out.output.data as Float32Array;
  expect(got.length).toBe(want.length);
  const scale = Math.max(...want.map(Math.abs));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  expect(err).toBeLessThanOrEqual(1e-4 * scale);
}

async function errorOf(p: Promise<unknown>): Promise<CnncError> {
  const e = await p.then(() => undefined, (x) => x);
  expect(e).toBeInstanceOf(CnncError);
  return e as CnncError;
}

beforeAll(async () => {
  wasmBytes = (await compile(graph, 'wasm')).save();
  wgslBytes = (await compile(graph, 'wgsl')).save();
  dir = mkdtempSync(join(tmpdir(), 'cnnc-runtime-api-'));
  writeFileSync(join(dir, 'm.wasm.cnnc'), wasmBytes);
});

describe('load() sources', () => {
  let server: Server, base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/m.cnnc') { res.writeHead(200, { 'content-length': wasmBytes.length }); res.end(wasmBytes); } else { res.writeHead(404); res.end(); }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    base = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  afterAll(() => server?.close());

  const chunked = () => new ReadableStream<Uint8Array>({
    start(c) { for (let i = 0; i < wasmBytes.length; i += 1000) c.enqueue(wasmBytes.slice(i, i + 1000)); c.close(); },
  });
  const sources: [string, () => unknown][] = [
    ['Uint8Array', () => wasmBytes],
    ['Node Buffer', () => Buffer.from(wasmBytes)],
    ['ArrayBuffer', () => wasmBytes.slice().buffer],
    ['a DataView', () => new DataView(wasmBytes.slice().buffer)],
    ['a path', () => join(dir, 'm.wasm.cnnc')],
    ['a file: URL', () => pathToFileURL(join(dir, 'm.wasm.cnnc'))],
    ['an http URL (fetch)', () => new URL(`${base}/m.cnnc`)],
    ['an http URL string', () => `${base}/m.cnnc`],
    ['a Response', () => new Response(wasmBytes as Uint8Array<ArrayBuffer>)],
    ['a ReadableStream', chunked],
    ['a Node stream (async iterable)', () => createReadStream(join(dir, 'm.wasm.cnnc'), { highWaterMark: 4096 })],
    ['a Blob', () => new Blob([wasmBytes as Uint8Array<ArrayBuffer>])],
  ];
  for (const [what, src] of sources) {
    it(`loads and runs from ${what}`, async () => {
      const s = await load(src() as Uint8Array);
      expect(s.backend).toBe('wasm');
      expectReference(await s.run({ input }));
    });
  }

  it('read progress reaches the byte count of a streamed Response', async () => {
    const events: LoadEvent[] = [];
    await load(await fetch(`${base}/m.cnnc`), { onProgress: (e) => events.push(e) });
    const reads = events.filter((e) => e.phase === 'read');
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.at(-1)!.done).toBe(wasmBytes.length);
    expect(reads.at(-1)!.total).toBe(wasmBytes.length);
  });

  it('a missing file, an HTTP 404 and a non-source are typed errors naming what failed', async () => {
    const missing = await errorOf(load(join(dir, 'nope.cnnc')));
    expect(missing.code).toBe('IO_ERROR');
    expect(missing.message).toContain('nope.cnnc');
    const http = await errorOf(load(`${base}/other.cnnc`));
    expect(http.code).toBe('IO_ERROR');
    expect(http.message).toContain('HTTP 404');
    const notFound = await errorOf(load(new Response('no', { status: 500 })));
    expect(notFound.message).toContain('HTTP 500');
    const num = await errorOf(load(42 as unknown as Uint8Array));
    expect(num.code).toBe('BAD_ARTIFACT');
    expect(num.message).toContain('a number');
    const corrupt = wasmBytes.slice();
    corrupt[100] ^= 1;
    expect((await errorOf(load(corrupt))).message).toContain('checksum');
  });
});

describe('run() feeds', () => {
  let s: Session;
  beforeAll(async () => { s = await load(wasmBytes); });

  it('takes an onnxruntime Tensor, { type, dims, data }, { data, shape } and a bare Float32Array', async () => {
    expectReference(await s.run({ input: new OrtTensor('float32', data, [1, 3, 16, 16]) as never }));
    expectReference(await s.run({ input: { type: 'float32', dims: [1, 3, 16, 16], data } }));
    expectReference(await s.run({ input: { data, shape: [1, 3, 16, 16] } }));
    expectReference(await s.run({ input: data }));
  });

  it('malformed feeds are BAD_INPUT naming the input, not TypeErrors', async () => {
    const cases: [unknown, RegExp][] = [
      [null, /got null/],
      [{ type: 'float32', dims: [1, 3, 16, 16], data: Array.from(data) }, /expected a typed array/],
      [{ type: 'string', dims: [1], data: new Float32Array(1) }, /type 'string'/],
      [{ data, shape: [1, 3, 16, 15] }, /needs 720/],
      [new Float32Array(5), /the model takes f32\[1,3,16,16\]/],
      [{ data, shape: 'x' }, /shape "x"/],
    ];
    for (const [feed, msg] of cases) {
      const e = await errorOf(s.run({ input: feed as Float32Array }));
      expect(e.code).toBe('BAD_INPUT');
      expect(e.value).toBe('input');
      expect(e.message).toMatch(msg);
    }
    expect((await errorOf(s.run(null as never))).message).toMatch(/object of named (inputs \(input\)|tensors \{ input \})/);
  });

  it('describes its inputs and outputs and the threads it uses', async () => {
    const t = await load(wasmBytes, { threads: 3 });
    expect(t.inputs).toEqual([{ name: 'input', dtype: 'f32', shape: [1, 3, 16, 16] }]);
    expect(t.outputs).toEqual([{ name: 'output', dtype: 'f32', shape: [1, 10] }]);
    expect(t.threads).toBe(3); // Node has SharedArrayBuffer: the threads asked for run, and the session says so
    expect(t.threadsNote).toBeUndefined();
    t.dispose();
  });
});

describe('backends: preference and fallback', () => {
  it('the wasm-only entry falls back from a wgsl artifact to the wasm one and records why', async () => {
    const s = await loadWasmOnly({ wgsl: wgslBytes, wasm: wasmBytes }, { backends: ['webgpu', 'wasm'] });
    expect(s.backend).toBe('wasm');
    expect(s.fallbacks.map((f) => f.backend)).toEqual(['webgpu']);
    expect(s.fallbacks[0].error).toMatch(/no 'webgpu' backend/);
    expectReference(await s.run({ input }));
  });

  it('webgpu without an adapter (Dawn on a backend this machine lacks) falls back to wasm, with a fallback event', async () => {
    const saved = process.env.CNNC_DAWN_FLAGS;
    process.env.CNNC_DAWN_FLAGS = 'backend=d3d12';
    try {
      const events: LoadEvent[] = [];
      const s = await load({ wgsl: wgslBytes, wasm: wasmBytes }, { onProgress: (e) => events.push(e) });
      expect(s.backend).toBe('wasm');
      expect(s.fallbacks[0]).toMatchObject({ backend: 'webgpu' });
      expect(s.fallbacks[0].error).toMatch(/^NO_DEVICE/);
      expect(events.map((e) => `${e.phase}:${e.backend ?? ''}`)).toEqual(expect.arrayContaining(['open:webgpu', 'fallback:webgpu', 'open:wasm', 'ready:wasm']));
      expectReference(await s.run({ input }));
      // with only the wgsl artifact there is nothing to fall back to: the NO_DEVICE error itself
      expect((await errorOf(load(wgslBytes))).code).toBe('NO_DEVICE');
    } finally {
      if (saved === undefined) delete process.env.CNNC_DAWN_FLAGS; else process.env.CNNC_DAWN_FLAGS = saved;
    }
  });

  it('follows the order given: wasm first means webgpu is never tried', async () => {
    const s = await load({ wgsl: wgslBytes, wasm: wasmBytes }, { backends: ['wasm', 'webgpu'] });
    expect(s.backend).toBe('wasm');
    expect(s.fallbacks).toEqual([]);
  });

  it('an artifact for another backend, an unknown backend and no matching artifact are UNSUPPORTED', async () => {
    const e = await errorOf(load(wgslBytes, { backends: ['wasm'] }));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain("compiled for 'wgsl'");
    expect((await errorOf(load(wasmBytes, { backend: 'tpu' as never }))).message).toContain("unknown backend 'tpu'");
    expect((await errorOf(load({ wasm: wasmBytes }, { backends: ['cuda'] }))).message).toContain('no artifact given for backends cuda');
  });
});

describe('profile() and onProgress', () => {
  it('wasm: one time per planned step, in run order, and the load phases in order', async () => {
    const events: LoadEvent[] = [];
    const s = await load(wasmBytes, { onProgress: (e) => events.push(e) });
    expect(events.map((e) => e.phase)).toEqual(['read', 'verify', 'open', 'ready']);
    expect(events.every((e, i) => i === 0 || e.ms >= events[i - 1].ms)).toBe(true);
    const prof = await s.profile({ input }, { reps: 3 });
    const steps = (decodeArtifact(wasmBytes).header.plan as { steps: { node: string; op: string }[] }).steps;
    expect(prof.map((p) => p.node)).toEqual(steps.map((p) => p.node));
    expect(prof.map((p) => p.op)).toEqual(steps.map((p) => p.op));
    for (const p of prof) expect(p.ms).toBeGreaterThanOrEqual(0);
    expect((await s.profile()).length).toBe(prof.length); // zeros as feeds
    expectReference(await s.run({ input })); // profiling leaves the session usable
  });

  it('webgpu: one pipelines event per shader, counting up to the total, then a profile per step', async (t) => {
    const ctx = await gpuContext().catch(() => undefined);
    if (!ctx) t.skip(); // no WebGPU adapter here: reported as skipped, not passed
    const events: LoadEvent[] = [];
    const s = await load(wgslBytes, { onProgress: (e) => events.push(e) });
    expect(s.backend).toBe('webgpu');
    const pipes = events.filter((e) => e.phase === 'pipelines');
    expect(pipes.length).toBeGreaterThan(0);
    expect(pipes.map((e) => e.done)).toEqual(pipes.map((_, i) => i + 1));
    expect(pipes.every((e) => e.total === pipes.length && typeof e.message === 'string')).toBe(true);
    expectReference(await s.run({ input }));
    const prof = await s.profile({ input }, { reps: 1 });
    expect(prof.length).toBeGreaterThanOrEqual(pipes.length);
  }, 300_000);
});

const cudaOk = emulationAvailable() && !!findNvcc();
describe.skipIf(!cudaOk)('cuda backend on the fake libcuda (kernels emulated on the CPU; skipped without nvcc and g++)', () => {
  it('loads through load(), runs to the reference, profiles one time per planned step', async () => {
    const c = compileCuda(runPipeline(graph, 'cuda', {}).graph);
    Object.assign(process.env, buildFakeDriver([c.module], mkdtempSync(join(tmpdir(), 'cnnc-api-cuda-'))));
    const bytes = c.save();
    const s = await load({ cuda: bytes, wasm: wasmBytes });
    expect(s.backend).toBe('cuda');
    expectReference(await s.run({ input }));
    const prof = await s.profile({ input }, { reps: 1 });
    expect(prof.map((p) => p.kernel)).toEqual(c.module.plan.steps.map((st) => st.kernel));
    for (const p of prof) expect(p.ms).toBeGreaterThanOrEqual(0);
  }, 300_000);
});

describe('bundles and checksums', () => {
  it('a bundle of the wasm-only entry holds no WebGPU or CUDA code; the main entry splits them into chunks', async () => {
    const wasmOnly = await build({ entryPoints: ['runtime/wasm-entry.ts'], bundle: true, write: false, format: 'esm', platform: 'browser', minify: true });
    const text = wasmOnly.outputFiles[0].text;
    expect(text).not.toMatch(/createComputePipelineAsync|cuLaunchKernel/);
    expect(text).toMatch(/WebAssembly\.compile/);
    const full = await build({ entryPoints: ['runtime/index.ts'], bundle: true, write: false, format: 'esm', platform: 'browser', splitting: true, outdir: 'out', minify: true });
    const entry = full.outputFiles.find((f) => f.path.endsWith('index.js'))!;
    expect(entry.text).not.toMatch(/createComputePipelineAsync/);
    expect(full.outputFiles.some((f) => /createComputePipelineAsync/.test(f.text))).toBe(true);
  });

  it('examples/web uses the public API only (runtime/index.js, as an app imports @cnnc/runtime)', () => {
    const src = readFileSync('examples/web/main.ts', 'utf8');
    const imports = [...src.matchAll(/^import [^;]* from '([^']+)'/gm)].map((m) => m[1]);
    expect(imports).toEqual(['../../runtime/index.js']);
  });

  it('crc32 (native zlib where present) and the slice-by-8 table agree with zlib on every length mod 8', () => {
    const b = Uint8Array.from({ length: 4099 }, (_, i) => (i * 2654435761) >>> 24);
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 1000, 4096, 4099]) {
      const s = b.subarray(3, 3 + n);
      expect(crc32Table(s)).toBe(zlibCrc32(s));
      expect(crc32(s)).toBe(zlibCrc32(s));
    }
  });
});
