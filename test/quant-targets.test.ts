/**
 * The quantization kernels of the cuda (CPU emulation) and wgsl targets against the reference, bit for bit:
 *   - a small QDQ conv net (per-channel weights, int32 biases, relu, a residual Add, i8 and u8
 *     activations, u8 weights with zero points, K not a multiple of 4, a grouped strided conv, a Gemm)
 *     rewritten by passes/quantize-qdq.ts into QConv/QGemm, compiled for each target;
 *   - QuantizeLinear / DynamicQuantizeLinear / QLinearMatMul on thousands of seeded values with scales
 *     that are not powers of two (every quotient and acc·multiplier rounding step of the kernels);
 *   - hostile parameters: typed errors naming the node, before any code runs.
 * Run the wgsl part with CNNC_DAWN_FLAGS=backend=opengles (the OpenGL ES compatibility path).
 */
import { describe, expect, it } from 'vitest';
import { buildEmulatedProgram, emulationAvailable } from '../codegen/cuda/emu.js';
import { checkCompilesAsync, findNvcc } from '../codegen/cuda/nvcc.js';
import { lowerCuda } from '../codegen/cuda/lower.js';
import { importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { compile } from '../index.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { quantizeQdq } from '../passes/quantize-qdq.js';
import { CnncError } from '../runtime/errors.js';
import { load } from '../runtime/index.js';
import { WebGpuModel, type WgslPlan } from '../runtime/webgpu/index.js';
import { decodeArtifact } from '../runtime/artifact.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStandalone } from './gpu/common.js';

const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 };
const A = onnx.AttributeProto.AttributeType;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

type Init = { name: string; dataType: number; dims: number[]; floatData?: number[]; int32Data?: number[] };
const init = (name: string, dataType: number, dims: number[], v: number[]): Init =>
  (dataType === DT.FLOAT ? { name, dataType, dims, floatData: v } : { name, dataType, dims, int32Data: v });
const node = (opType: string, input: string[], output: string[], attribute: object[] = []) => ({ opType, input, output, attribute, name: `${output[0]}_n` });
const ints = (name: string, v: number[]) => ({ name, type: A.INTS, ints: v });
const int = (name: string, i: number) => ({ name, type: A.INT, i });
const vi = (name: string, elemType: number, dims: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });

function model(nodes: object[], inits: Init[], inputs: object[], outputs: object[]): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph: { name: 'q', node: nodes, input: inputs, output: outputs, initializer: inits },
  })).finish();
}

/**
 * x f32 [1,3,8,8] → Q u8 → conv1 (3→8, 3×3 pad 1, i8 per-channel, bias) → Relu → Q u8 (y1)
 *   → conv2 (8→8, 3×3 pad 1, u8 weights with per-channel zero points, bias) → Q u8 → DQ, + DQ(y1), Relu → Q i8 (y3)
 *   → conv3 (8→4, 3×3 stride 2 pad 1, group 2, i8 x, bias) → Q u8 (y4) → Flatten → Gemm(transB, 64→6, bias) → Q i8 (y5)
 * floatOut: conv2's output goes to the Add unquantized, and the Gemm → Relu output (yf, f32) is not
 * quantized either: QConv/QGemm with f32 output.
 */
function qdqNet(seed: number, floatOut = false): Uint8Array {
  const r = rng(seed);
  const rand = (n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + Math.floor(r() * (hi - lo + 1)));
  const scales = (n: number, base: number) => Array.from({ length: n }, () => Math.fround(base * (0.6 + 0.8 * r())));
  const f = Math.fround;
  const sx = f(0.0123), s1 = f(0.0371), s2 = f(0.0519), s3 = f(0.0457), s4 = f(0.0311), s5 = f(0.0673);
  const sw1 = scales(8, 0.011), sw2 = scales(8, 0.004), sw3 = scales(4, 0.009), sw5 = scales(6, 0.006);
  const inits: Init[] = [];
  const nodes: object[] = [];
  const q = (x: string, s: string, z: string, y: string) => nodes.push(node('QuantizeLinear', [x, s, z], [y]));
  const dq = (x: string, s: string, z: string, y: string, axis = 1) => nodes.push(node('DequantizeLinear', [x, s, z], [y], [int('axis', axis)]));
  const scalar = (name: string, dt: number, v: number) => inits.push(init(name, dt, [], [v]));
  /** A conv (or Gemm) with per-channel weights `wdt` (zero points wz) and an int32 bias in units of sxIn·sw. */
  const weights = (tag: string, dims: number[], wdt: number, wz: number[], sw: number[], sxIn: number) => {
    const n = dims.reduce((a, b) => a * b, 1);
    inits.push(init(`${tag}_w`, wdt, dims, wdt === DT.INT8 ? rand(n, -127, 127) : rand(n, 0, 255)));
    inits.push(init(`${tag}_sw`, DT.FLOAT, [sw.length], sw), init(`${tag}_zw`, wdt, [wz.length], wz));
    inits.push(init(`${tag}_b`, DT.INT32, [sw.length], rand(sw.length, -3000, 3000)));
    inits.push(init(`${tag}_sb`, DT.FLOAT, [sw.length], sw.map((s) => f(sxIn * s))), init(`${tag}_zb`, DT.INT32, [sw.length], sw.map(() => 0)));
    dq(`${tag}_w`, `${tag}_sw`, `${tag}_zw`, `${tag}_wd`, 0);
    dq(`${tag}_b`, `${tag}_sb`, `${tag}_zb`, `${tag}_bd`, 0);
  };
  scalar('sx', DT.FLOAT, sx); scalar('zx', DT.UINT8, 128);
  for (const [s, v] of [['s1', s1], ['s2', s2], ['s3', s3], ['s4', s4], ['s5', s5]] as const) scalar(s, DT.FLOAT, v);
  scalar('z1', DT.UINT8, 0); scalar('z2', DT.UINT8, 131); scalar('z3', DT.INT8, -9); scalar('z4', DT.UINT8, 117); scalar('z5', DT.INT8, 3);
  q('x', 'sx', 'zx', 'xq'); dq('xq', 'sx', 'zx', 'xd');
  weights('c1', [8, 3, 3, 3], DT.INT8, sw1.map(() => 0), sw1, sx);
  nodes.push(node('Conv', ['xd', 'c1_wd', 'c1_bd'], ['c1'], [ints('pads', [1, 1, 1, 1])]), node('Relu', ['c1'], ['r1']));
  q('r1', 's1', 'z1', 'y1'); dq('y1', 's1', 'z1', 'y1d');
  weights('c2', [8, 8, 3, 3], DT.UINT8, rand(8, 100, 150), sw2, s1);
  nodes.push(node('Conv', ['y1d', 'c2_wd', 'c2_bd'], ['c2'], [ints('pads', [1, 1, 1, 1])]));
  if (!floatOut) { q('c2', 's2', 'z2', 'c2q'); dq('c2q', 's2', 'z2', 'c2d'); }
  nodes.push(node('Add', [floatOut ? 'c2' : 'c2d', 'y1d'], ['sum']), node('Relu', ['sum'], ['r3']));
  q('r3', 's3', 'z3', 'y3'); dq('y3', 's3', 'z3', 'y3d');
  weights('c3', [4, 4, 3, 3], DT.INT8, sw3.map(() => 0), sw3, s3);
  nodes.push(node('Conv', ['y3d', 'c3_wd', 'c3_bd'], ['c3'], [ints('pads', [1, 1, 1, 1]), ints('strides', [2, 2]), int('group', 2)]));
  q('c3', 's4', 'z4', 'y4'); dq('y4', 's4', 'z4', 'y4d');
  nodes.push(node('Flatten', ['y4d'], ['flat']));
  q('flat', 's4', 'z4', 'fq'); dq('fq', 's4', 'z4', 'fd');
  weights('g', [6, 64], DT.INT8, sw5.map(() => 0), sw5, s4);
  nodes.push(node('Gemm', ['fd', 'g_wd', 'g_bd'], ['g'], [int('transB', 1)]));
  if (floatOut) nodes.push(node('Relu', ['g'], ['yf']));
  else q('g', 's5', 'z5', 'y5');
  return model(nodes, inits, [vi('x', DT.FLOAT, [1, 3, 8, 8])],
    [vi('y1', DT.UINT8, [1, 8, 8, 8]), vi('y3', DT.INT8, [1, 8, 8, 8]), vi('y4', DT.UINT8, [1, 4, 4, 4]), floatOut ? vi('yf', DT.FLOAT, [1, 6]) : vi('y5', DT.INT8, [1, 6])]);
}

function inputX(seed: number): Tensor {
  const r = rng(seed);
  return tensor('f32', [1, 3, 8, 8], Float32Array.from({ length: 192 }, () => (r() * 2 - 1) * 1.6));
}

/** QuantizeLinear per axis (i8), DynamicQuantizeLinear, DequantizeLinear per axis. */
function quantizeOpsGraph(): Graph {
  return importOnnx(model(
    [node('QuantizeLinear', ['x', 's', 'z'], ['q'], [int('axis', 1)]), node('DynamicQuantizeLinear', ['x'], ['d', 'ds', 'dz']),
      node('DequantizeLinear', ['q', 's', 'z'], ['dq'], [int('axis', 1)])],
    [init('s', DT.FLOAT, [4], [0.0137, 0.0291, 0.00733, 0.0511].map(Math.fround)), init('z', DT.INT8, [4], [0, -3, 17, -128])],
    [vi('x', DT.FLOAT, [2, 4, 512])], [vi('q', DT.INT8, [2, 4, 512]), vi('d', DT.UINT8, [2, 4, 512]), vi('ds', DT.FLOAT, []), vi('dz', DT.UINT8, []), vi('dq', DT.FLOAT, [2, 4, 512])],
  ));
}

/** QLinearMatMul (per-row a_scale and zero point, per-column b_scale) and QLinearConv (per-channel, bias, asymmetric pads). */
function qlinearGraph(u8: (n: number) => Uint8Array, r: () => number): Graph {
  return importOnnx(model(
    [node('QLinearMatMul', ['a', 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz'], ['y']),
      node('QLinearConv', ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz', 'bias'], ['yc'], [ints('pads', [1, 0, 1, 0])])],
    [init('as', DT.FLOAT, [16], Array.from({ length: 16 }, () => Math.fround(0.01 + 0.03 * r()))), init('az', DT.UINT8, [16], Array.from(u8(16))),
      init('bs', DT.FLOAT, [24], Array.from({ length: 24 }, () => Math.fround(0.01 + 0.02 * r()))), init('bz', DT.UINT8, [], [119]),
      init('ys', DT.FLOAT, [], [Math.fround(1.37)]), init('yz', DT.UINT8, [], [121]),
      init('xs', DT.FLOAT, [], [Math.fround(0.0173)]), init('xz', DT.UINT8, [], [131]),
      init('ws', DT.FLOAT, [5], Array.from({ length: 5 }, () => Math.fround(0.002 + 0.01 * r()))), init('wz', DT.UINT8, [5], Array.from(u8(5))),
      init('bias', DT.INT32, [5], [1000, -20000, 0, 777, -5])],
    [vi('a', DT.UINT8, [16, 40]), vi('b', DT.UINT8, [40, 24]), vi('x', DT.UINT8, [1, 3, 9, 7]), vi('w', DT.UINT8, [5, 3, 3, 2])],
    [vi('y', DT.UINT8, [16, 24]), vi('yc', DT.UINT8, [1, 5, 9, 6])],
  ));
}

/** ConvInteger (u8 x, i8 w with per-channel zero points) and a batched, broadcast i8 MatMulInteger. */
function integerGraph(): Graph {
  return importOnnx(model(
    [node('ConvInteger', ['x', 'w', 'xz', 'wz'], ['y'], [ints('pads', [1, 1, 1, 1])]), node('MatMulInteger', ['a', 'b'], ['m'])],
    [init('xz', DT.UINT8, [], [7]), init('wz', DT.INT8, [2], [1, -2])],
    [vi('x', DT.UINT8, [1, 3, 5, 5]), vi('w', DT.INT8, [2, 3, 3, 3]), vi('a', DT.INT8, [2, 3, 4]), vi('b', DT.INT8, [4, 5])],
    [vi('y', DT.INT32, [1, 2, 5, 5]), vi('m', DT.INT32, [2, 3, 5])],
  ));
}

const EMU = emulationAvailable();

/** Runs `g` on `target` (cuda: the emulated standalone program of compile()'s graph). */
async function runOn(g: Graph, target: 'cuda' | 'wgsl', feed: Record<string, Tensor>, unpackedDot = false): Promise<Record<string, Tensor>> {
  const c = await compile(g, target);
  if (target === 'wgsl') {
    const s = await load(c.save(), { webgpu: { unpackedDot } });
    try { return await s.run(feed); } finally { (s as { dispose?: () => void }).dispose?.(); }
  }
  const dir = mkdtempSync(join(tmpdir(), 'cnnc-quant-'));
  try {
    const mod = lowerCuda(c.graph);
    return runStandalone(buildEmulatedProgram(mod, dir), dir, mod.plan, feed).outputs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every output equal to the reference's, element for element, dtypes too. */
function expectExact(got: Record<string, Tensor>, ref: Record<string, Tensor>): void {
  for (const [name, want] of Object.entries(ref)) {
    expect(got[name].dtype, name).toBe(want.dtype);
    const a = toF64(got[name]), b = toF64(want);
    const bad = Array.from(b.keys()).filter((i) => a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i])));
    expect(bad.length, `${name}: ${bad.slice(0, 5).map((i) => `[${i}] ${a[i]} vs ${b[i]}`).join(', ')}`).toBe(0);
  }
}

const TARGETS = [...(EMU ? ['cuda' as const] : []), 'wgsl' as const];

describe.each(TARGETS)('quantization kernels on %s vs the reference, bit-exact', (target) => {
  it('QDQ conv net → quantize-qdq → QConv/QGemm (per-channel, bias, relu, residual, i8/u8)', async () => {
    const g = quantizeQdq(importOnnx(qdqNet(5)));
    const ops = g.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === 'QConv')).toHaveLength(3);
    expect(ops.filter((o) => o === 'QGemm')).toHaveLength(1);
    for (const seed of [1, 2]) {
      const feed = { x: inputX(seed) };
      const ref = interpret(g, feed);
      const got = await runOn(g, target, feed);
      expectExact(got, ref);
      // not a degenerate net: the outputs spread over many levels
      expect(new Set(toF64(ref.y3)).size).toBeGreaterThan(20);
    }
  }, 300_000);

  it('QDQ net with unquantized outputs → QConv/QGemm with f32 output (no requantization), bit-exact', async () => {
    const g = quantizeQdq(importOnnx(qdqNet(5, true)));
    const f32Out = g.nodes.filter((n) => (n.op === 'QConv' || n.op === 'QGemm') && n.attrs.out_dtype === 'f32');
    expect(f32Out.map((n) => n.op).sort()).toEqual(['QConv', 'QGemm']);
    expect(g.nodes.filter((n) => n.op === 'QConv')).toHaveLength(3);
    expect(f32Out.find((n) => n.op === 'QGemm')!.attrs.activation).toBe('relu');
    const feed = { x: inputX(1) };
    const ref = interpret(g, feed);
    expect(ref.yf.dtype).toBe('f32');
    expect(toF64(ref.yf).some((v) => v > 0)).toBe(true);
    expectExact(await runOn(g, target, feed), ref);
  }, 300_000);

  it('QuantizeLinear per axis and DynamicQuantizeLinear on 4096 seeded values (scales not powers of two)', async () => {
    const r = rng(9);
    const n = 4096;
    const xs = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? Math.round((r() - 0.5) * 400) * 0.0137 : (r() - 0.5) * 6));
    const g = quantizeOpsGraph();
    const feed = { x: tensor('f32', [2, 4, 512], xs) };
    expectExact(await runOn(g, target, feed), interpret(g, feed));
  }, 300_000);

  it('QLinearMatMul and QLinearConv with per-row/per-channel scales on seeded data', async () => {
    const r = rng(4);
    const u8 = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    const g = qlinearGraph(u8, r);
    const feed = { a: tensor('u8', [16, 40], u8(640)), b: tensor('u8', [40, 24], u8(960)), x: tensor('u8', [1, 3, 9, 7], u8(189)), w: tensor('u8', [5, 3, 3, 2], u8(90)) };
    const ref = interpret(g, feed);
    expect(new Set(toF64(ref.y)).size).toBeGreaterThan(30);
    expectExact(await runOn(g, target, feed), ref);
  }, 300_000);

  it('ConvInteger with per-channel i8 zero points and a batched i8 MatMulInteger', async () => {
    const r = rng(21);
    const g = integerGraph();
    const ints8 = (n: number, lo: number) => Array.from({ length: n }, () => lo + Math.floor(r() * 256));
    const feed = {
      x: tensor('u8', [1, 3, 5, 5], Uint8Array.from(ints8(75, 0))), w: tensor('i8', [2, 3, 3, 3], Int8Array.from(ints8(54, -128))),
      a: tensor('i8', [2, 3, 4], Int8Array.from(ints8(24, -128))), b: tensor('i8', [4, 5], Int8Array.from(ints8(20, -128))),
    };
    expectExact(await runOn(g, target, feed), interpret(g, feed));
  }, 120_000);

  it('MatMulInteger and QLinearMatMul with int32 sums beyond 2^24 (where an f32 accumulator would round)', async () => {
    const r = rng(12);
    const K = 700;
    const big = (n: number) => Uint8Array.from({ length: n }, () => 200 + Math.floor(r() * 56));
    const g = importOnnx(model(
      [node('QLinearMatMul', ['a', 'as', 'z', 'b', 'bs', 'z', 'ys', 'yz'], ['y']), node('MatMulInteger', ['a', 'b'], ['acc'])],
      [init('as', DT.FLOAT, [], [Math.fround(0.0131)]), init('bs', DT.FLOAT, [], [Math.fround(0.0173)]), init('z', DT.UINT8, [], [0]),
        init('ys', DT.FLOAT, [], [Math.fround(37.3)]), init('yz', DT.UINT8, [], [0])],
      [vi('a', DT.UINT8, [3, K]), vi('b', DT.UINT8, [K, 5])], [vi('y', DT.UINT8, [3, 5]), vi('acc', DT.INT32, [3, 5])],
    ));
    const feed = { a: tensor('u8', [3, K], big(3 * K)), b: tensor('u8', [K, 5], big(5 * K)) };
    const ref = interpret(g, feed);
    expect(Math.min(...toF64(ref.acc))).toBeGreaterThan(2 ** 24);
    expectExact(await runOn(g, target, feed), ref);
  }, 120_000);

  it('hostile parameters give typed errors naming the node, before any code runs', async () => {
    const one = (nodes: object[], inits: Init[], inputs: object[], outputs: object[]) => async () => compile(importOnnx(model(nodes, inits, inputs, outputs)), target);
    const cases: [() => Promise<unknown>, RegExp, string][] = [
      // zero scale
      [one([node('QuantizeLinear', ['x', 's', 'z'], ['y'])], [init('s', DT.FLOAT, [], [0]), init('z', DT.UINT8, [], [3])], [vi('x', DT.FLOAT, [4])], [vi('y', DT.UINT8, [4])]),
        /scale 0 must be finite and > 0/, 'y_n'],
      // per-axis scale of the wrong length
      [one([node('DequantizeLinear', ['x', 's'], ['y'], [int('axis', 1)])], [init('s', DT.FLOAT, [3], [1, 2, 3])], [vi('x', DT.UINT8, [2, 4])], [vi('y', DT.FLOAT, [2, 4])]),
        /per-axis scale must be 1-D of length 4/, 'y_n'],
      // zero point outside the dtype's range (an int32 zero point for an i8 QLinearMatMul operand)
      [one([node('QLinearMatMul', ['a', 's', 'za', 'b', 's', 'zb', 's', 'zy'], ['y'])],
        [init('s', DT.FLOAT, [], [1]), init('za', DT.INT32, [], [300]), init('zb', DT.UINT8, [], [0]), init('zy', DT.UINT8, [], [0])],
        [vi('a', DT.UINT8, [2, 2]), vi('b', DT.UINT8, [2, 2])], [vi('y', DT.UINT8, [2, 2])]), /zero point/, 'y_n'],
    ];
    for (const [run, msg, name] of cases) {
      const e = await run().then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(CnncError);
      expect((e as Error).message).toMatch(msg);
      expect((e as CnncError).node ?? (e as Error).message).toContain(name);
    }
    // a mode the kernels do not have (an f16 result): refused by compile() naming the node and the reason
    const e = await one([node('DequantizeLinear', ['x', 's'], ['y'])], [{ name: 's', dataType: 10, dims: [], int32Data: [0x3800] }], [vi('x', DT.UINT8, [4])], [vi('y', 10, [4])])()
      .then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(CnncError);
    expect((e as CnncError).code).toBe('UNSUPPORTED');
    expect((e as Error).message).toMatch(/DequantizeLinear to f16 .*has no kernel/);
    expect((e as Error).message).toContain('y_n');
  }, 120_000);
});

describe('wgsl QConv/QGemm: packed dot products (dot4I8Packed) and the unpacked fallback', () => {
  it('both variants give the reference\'s int8 outputs; the packed one runs where WGSL has the feature', async () => {
    const g = quantizeQdq(importOnnx(qdqNet(5)));
    const c = await compile(g, 'wgsl');
    const art = decodeArtifact(c.save());
    const plan = art.header.plan as WgslPlan;
    const packed = plan.steps.filter((s) => s.packed);
    expect(packed.map((s) => s.op).sort()).toEqual(['QConv', 'QConv', 'QConv', 'QGemm']);
    const shaders = JSON.parse(new TextDecoder().decode(art.sections['wgsl.f32'])) as string[];
    expect(shaders[packed[0].packed!.shader]).toContain('dot4I8Packed(');
    expect(shaders[packed[0].shader]).not.toContain('dot4I8Packed(');
    const feed = { x: inputX(3) };
    const ref = interpret(g, feed);
    for (const unpackedDot of [false, true]) {
      const m = await WebGpuModel.load(c.save(), { unpackedDot });
      try {
        if (unpackedDot) expect(m.packedDot).toBe(false);
        else if (m.packedDot) console.log('wgsl: the packed (dot4I8Packed) kernels ran');
        expectExact(await m.run(feed), ref);
      } finally {
        m.dispose();
      }
    }
  }, 300_000);
});

describe.skipIf(!findNvcc())('quantization kernels build with nvcc -Werror for sm_80 and sm_90', () => {
  it('QConv/QGemm (__dp4a) and the ONNX quantization ops', async () => {
    const r = rng(4);
    const u8 = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    for (const g of [quantizeQdq(importOnnx(qdqNet(5))), quantizeOpsGraph(), qlinearGraph(u8, r), integerGraph()]) {
      const src = lowerCuda((await compile(g, 'cuda')).graph).source;
      await checkCompilesAsync(src);
    }
    expect(lowerCuda((await compile(quantizeQdq(importOnnx(qdqNet(5))), 'cuda')).graph).source).toContain('__dp4a(');
  }, 600_000);
});
