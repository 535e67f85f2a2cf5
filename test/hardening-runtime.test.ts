/**
 * Findings 10, 11, 12: artifact headers validated against a schema after the CRC (and ≥1,000 header/
 * section mutants, each a result or a typed error), the runtime memory cap, run() misuse as typed
 * BAD_INPUT errors naming the difference, Session.dispose / `using`, queued concurrent runs, no leak.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compile } from '../index.js';
import { Graph } from '../ir/graph.js';
import { load } from '../runtime/index.js';
import { decodeArtifact, encodeArtifact, encodeSections } from '../runtime/artifact.js';
import { tensor, type Tensor } from '../runtime/tensor.js';
import { artifactOutcome, mutateArtifact, rng, withHeader } from './fuzz/artifact.js';

function model(): Graph {
  const g = new Graph('tiny');
  const x = g.addInput('x', { dtype: 'f32', shape: [1, 1, 6, 6] });
  const w = g.addConstant('w', tensor('f32', [2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => Math.sin(i))));
  const fc = g.addConstant('fc', tensor('f32', [32, 3], Array.from({ length: 96 }, (_, i) => Math.cos(i))));
  const h = g.add('Flatten', [g.add('Relu', [g.add('Conv', [x, w])])]);
  g.setOutputs([g.add('Gemm', [h, fc])]);
  return g;
}

let bytes: Uint8Array;
let want: Float32Array;
const input = (): Record<string, Tensor> => ({ x: tensor('f32', [1, 1, 6, 6], Array.from({ length: 36 }, (_, i) => (i % 7) - 3)) });
const header = () => structuredClone(decodeArtifact(bytes).header) as any;
const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e) => (e?.name === 'CnncError' ? e.code : `untyped ${e}`));
const messageOf = (p: Promise<unknown>) => p.then(() => 'ok', (e) => String(e?.message));

beforeAll(async () => {
  const m = await compile(model(), 'wasm');
  bytes = m.save();
  want = (await (await load(bytes)).run(input())).gemm.data as Float32Array;
});

describe('encodeSections (sections written from parts)', () => {
  it('gives the bytes of encodeArtifact over the joined parts, and each section as a view into them', () => {
    const a = decodeArtifact(bytes);
    const w = a.sections.weights;
    const cuts = [0, 3, 3, w.length >> 1, w.length]; // an empty part and unaligned lengths
    const parts = cuts.slice(1).map((end, i) => w.slice(cuts[i], end));
    const out = encodeSections(a.header, { ...a.sections, weights: parts });
    expect(Buffer.from(out.bytes).equals(Buffer.from(encodeArtifact(a)))).toBe(true);
    expect(Buffer.from(out.bytes).equals(Buffer.from(bytes))).toBe(true);
    for (const [name, s] of Object.entries(a.sections)) {
      expect(out.sections[name].buffer).toBe(out.bytes.buffer);
      expect(Buffer.from(out.sections[name]).equals(Buffer.from(s))).toBe(true);
    }
  });
});

describe('artifact header schema (finding 10)', () => {
  const cases: [string, (h: any) => void, string, RegExp][] = [
    ['null shape', (h) => { h.inputs[0].shape = null; }, 'BAD_ARTIFACT', /shape null/],
    ['negative dimension', (h) => { h.outputs[0].shape = [1, -3]; }, 'BAD_ARTIFACT', /non-negative integers/],
    ['sections not a list', (h) => { h.sections = { weights: 1 }; }, 'BAD_ARTIFACT', /sections is not a list/],
    ['unaligned section', (h) => { h.sections[0].offset += 1; }, 'BAD_ARTIFACT', /not 16-byte aligned/],
    ['negative section length', (h) => { h.sections[1].length = -4; }, 'BAD_ARTIFACT', /non-negative integers/],
    ['short weights section', (h) => { h.sections.find((x: { name: string }) => x.name === 'weights').length -= 16; }, 'BAD_ARTIFACT', /weights|misplaced|overlap|lacks/],
    ['overlapping sections', (h) => { h.sections[1].offset = h.sections[0].offset; }, 'BAD_ARTIFACT', /overlaps/],
    ['input over the weights', (h) => { h.plan.inputs[0].offset = h.plan.weightsOffset; }, 'BAD_ARTIFACT', /misplaced/],
    ['unaligned input', (h) => { h.plan.inputs[0].offset += 2; }, 'BAD_ARTIFACT', /misplaced/],
    ['output [1, 2^28] outside the arena', (h) => { h.outputs[0].shape = [1, 2 ** 28]; }, 'BAD_ARTIFACT', /misplaced/],
    ['huge output [1, 2^29]', (h) => { h.outputs[0].shape = [1, 2 ** 29]; }, 'TOO_LARGE', /over the memory cap of 2147483648 bytes/],
    ['non-object header', (h) => { Object.keys(h).forEach((k) => delete h[k]); }, 'BAD_ARTIFACT', /version/],
    ['dtype not a dtype', (h) => { h.inputs[0].dtype = 'float'; }, 'BAD_ARTIFACT', /dtype "float"/],
    ['duplicate input names', (h) => { h.inputs.push({ ...h.inputs[0] }); }, 'BAD_ARTIFACT', /listed twice/],
    ['plan memory over the cap', (h) => { h.plan.memoryBytes = 2 ** 33; }, 'TOO_LARGE', /over the limit/],
  ];
  for (const [what, edit, code, msg] of cases) {
    it(`${what} → ${code}`, async () => {
      const h = header();
      edit(h);
      const p = load(withHeader(bytes, h));
      expect(await codeOf(p), await messageOf(load(withHeader(bytes, h)))).toBe(code);
      expect(await messageOf(load(withHeader(bytes, h)))).toMatch(msg);
    });
  }

  it('maxMemoryBytes caps what an artifact may claim before anything is allocated', async () => {
    expect(await codeOf(load(bytes, { maxMemoryBytes: 1000 }))).toBe('TOO_LARGE');
    expect(await messageOf(load(bytes, { maxMemoryBytes: 1000 }))).toMatch(/over the limit of 1000 bytes/);
  });

  it('1,000 header and section mutants (CRC recomputed): each runs to its declared outputs or fails with a typed error', async () => {
    const rand = rng(18);
    const counts: Record<string, number> = {};
    const t0 = Date.now();
    for (let i = 0; i < 1000; i++) {
      const m = mutateArtifact(bytes, rand);
      let code: string;
      try { code = await artifactOutcome(m.bytes, input()); } catch (e) { throw new Error(`mutant ${i} (${m.kind} ${m.detail}): untyped ${e}`); }
      counts[code] = (counts[code] ?? 0) + 1;
    }
    console.log(`artifact mutants: ${JSON.stringify(counts)} in ${Date.now() - t0} ms`);
    expect(Object.keys(counts).every((c) => ['ok', 'BAD_ARTIFACT', 'TOO_LARGE', 'BAD_INPUT'].includes(c))).toBe(true);
    expect(counts.BAD_ARTIFACT).toBeGreaterThan(100);
    expect(counts.ok).toBeGreaterThan(10);
  });
});

describe('fp16 wasm artifacts: the f16 weight runs (plan.weightsHalf) are checked like the rest of the plan', () => {
  let half: Uint8Array;
  const h16 = () => structuredClone(decodeArtifact(half).header) as any;
  beforeAll(async () => {
    half = (await compile(model(), 'wasm', { fp16: true })).save();
  });

  it('an fp16 artifact has f16 runs and runs within 1e-2 of the f32 one', async () => {
    expect(h16().plan.weightsHalf.length).toBeGreaterThan(0);
    const got = (await (await load(half)).run(input())).gemm.data as Float32Array;
    const scale = Math.max(...want.map(Math.abs));
    want.forEach((w, i) => expect(Math.abs(got[i] - w)).toBeLessThanOrEqual(1e-2 * scale));
  });

  const cases: [string, (h: any) => void, RegExp][] = [
    ['weightsHalf not a list', (h) => { h.plan.weightsHalf = 5; }, /weightsHalf is not a list/],
    ['a range backwards', (h) => { h.plan.weightsHalf[0].reverse(); }, /weightsHalf\[0\] is not a \[start, end\) word range/],
    ['a fractional bound', (h) => { h.plan.weightsHalf[0][1] -= 0.5; }, /weightsHalf\[0\] is not a \[start, end\) word range/],
    ['a range of three numbers', (h) => { h.plan.weightsHalf[0].push(1); }, /weightsHalf\[0\]/],
    ['a range listed twice (overlap)', (h) => { h.plan.weightsHalf.push([...h.plan.weightsHalf[0]]); }, /after the previous one/],
    ['a range past the section', (h) => { h.plan.weightsHalf.at(-1)[1] += 4; }, /does not hold the \d+ f16 words/],
    ['an odd number of f16 words', (h) => { h.plan.weightsHalf.at(-1)[1] -= 1; }, /does not hold/],
    ['a region over the arena', (h) => { h.plan.weightsHalf[0][1] += 1e6; }, /does not hold|overlap the arena/],
    ['an unaligned weights offset', (h) => { h.plan.weightsOffset += 2; }, /not 4-byte aligned/],
  ];
  for (const [what, edit, msg] of cases) {
    it(`${what} → BAD_ARTIFACT`, async () => {
      const h = h16();
      edit(h);
      expect(await codeOf(load(withHeader(half, h)))).toBe('BAD_ARTIFACT');
      expect(await messageOf(load(withHeader(half, h)))).toMatch(msg);
    });
  }

  it('300 header and section mutants of an fp16 artifact: each runs to its declared outputs or fails with a typed error', async () => {
    const rand = rng(16);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const m = mutateArtifact(half, rand);
      let code: string;
      try { code = await artifactOutcome(m.bytes, input()); } catch (e) { throw new Error(`mutant ${i} (${m.kind} ${m.detail}): untyped ${e}`); }
      counts[code] = (counts[code] ?? 0) + 1;
    }
    console.log(`fp16 artifact mutants: ${JSON.stringify(counts)}`);
    expect(Object.keys(counts).every((c) => ['ok', 'BAD_ARTIFACT', 'TOO_LARGE', 'BAD_INPUT'].includes(c))).toBe(true);
    expect(counts.BAD_ARTIFACT).toBeGreaterThan(30);
  });
});

describe('run() misuse is a typed BAD_INPUT naming the difference (finding 12)', () => {
  const cases: [string, unknown, RegExp][] = [
    ['null', null, /takes an object of named tensors \{ x \}, got null/],
    ['a number as the inputs', 5, /got a number/],
    ['a number as a tensor', { x: 5 }, /input 'x'.*number/],
    ['Float64Array data', { x: { dtype: 'f32', shape: [1, 1, 6, 6], data: new Float64Array(36) } }, /input 'x' data is Float64Array; f32 data is a Float32Array/],
    ['wrong dtype', { x: tensor('f64', [1, 1, 6, 6]) }, /dtype f64, not f32/],
    ['wrong shape', { x: tensor('f32', [1, 1, 6, 5]) }, /shape \[1,1,6,5\], not \[1,1,6,6\]/],
    ['short data', { x: { dtype: 'f32', shape: [1, 1, 6, 6], data: new Float32Array(35) } }, /35 elements/],
    ['missing input', {}, /input 'x' is missing/],
    ['extra input', { ...input(), y: tensor('f32', [1]) }, /'y' is not an input of the model \(inputs: x\)/],
    ['bad shape list', { x: { dtype: 'f32', shape: 'big', data: new Float32Array(36) } }, /shape "big"/],
  ];
  for (const [what, given, msg] of cases) {
    it(what, async () => {
      const s = await load(bytes);
      const p = s.run(given as Record<string, Tensor>);
      expect(await codeOf(p)).toBe('BAD_INPUT');
      expect(await messageOf(s.run(given as Record<string, Tensor>))).toMatch(msg);
    });
  }
});

it('the reference target gives the same run() messages', async () => {
  const m = await compile(model(), 'reference');
  const given = { x: { dtype: 'f32', shape: [1, 1, 6, 6], data: new Float64Array(36) } } as unknown as Record<string, Tensor>;
  expect(await messageOf(m.run(given))).toMatch(/input 'x' data is Float64Array; f32 data is a Float32Array/);
  expect(await codeOf(m.run(null as unknown as Record<string, Tensor>))).toBe('BAD_INPUT');
});

describe('Session.dispose, using, queued runs (finding 11, wasm)', () => {
  it('dispose frees the session; later runs are a typed error; `using` disposes at scope end', async () => {
    const s = await load(bytes);
    const pending = s.run(input()); // queued before dispose: still runs
    s.dispose();
    expect((await pending).gemm.data).toEqual(want);
    expect(await codeOf(s.run(input()))).toBe('BAD_INPUT');
    expect(await messageOf(s.run(input()))).toMatch(/disposed/);
    let kept: Awaited<ReturnType<typeof load>>;
    {
      using t = await load(bytes);
      kept = t;
      expect((await t.run(input())).gemm.data).toEqual(want);
    }
    expect(await codeOf(kept.run(input()))).toBe('BAD_INPUT');
  });

  it('100 concurrent run() calls each get the right outputs', async () => {
    const s = await load(bytes);
    const xs = Array.from({ length: 100 }, (_, k) => tensor('f32', [1, 1, 6, 6], Array.from({ length: 36 }, (_, i) => ((i * k) % 11) - 5)));
    const seq: Float32Array[] = [];
    for (const x of xs) seq.push((await s.run({ x })).gemm.data as Float32Array);
    const par = await Promise.all(xs.map((x) => s.run({ x })));
    par.forEach((o, k) => expect(o.gemm.data).toEqual(seq[k]));
    s.dispose();
  });

  it('RSS stays flat over 300 load/run/dispose cycles (within 64 MiB after warm-up)', async () => {
    const cycle = async () => { const s = await load(bytes); await s.run(input()); s.dispose(); };
    for (let i = 0; i < 50; i++) await cycle();
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 300; i++) await cycle();
    (globalThis as { gc?: () => void }).gc?.();
    const grown = process.memoryUsage().rss - before;
    expect(grown, `RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(64 * 2 ** 20);
  });
});
