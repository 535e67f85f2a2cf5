/**
 * Residual-stream equalization in `cnnc quantize` (cli/equalize-streams.ts): the tensors a chain of
 * Adds joins, with no activation between, are centred and scaled per channel in the convs around
 * them. The rewrite leaves the f32 model's function as it was, and where the stream's channels sit
 * at different offsets it lets one u8 scale per tensor fit them, so the int8 model's error falls.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findStreams, initializerAccess } from '../cli/equalize-streams.js';
import { equalize, quantizeOnnx } from '../cli/quantize.js';
import { decodeModel, importOnnx } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { interpret } from '../ir/interpreter.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';

const A = onnx.AttributeProto.AttributeType;
type Graph = NonNullable<Parameters<typeof onnx.GraphProto.create>[0]>;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
}

/**
 * x [1, 4, 6, 6] → conv0 (1×1, 4→6, biases −8…+8) = t0; two bottleneck blocks t_{k+1} = t_k +
 * conv(relu(conv(t_k))) (biases of the second conv offset too); t2 → head conv (1×1, or 3×3 padded
 * with `paddedHead`) → y. `streamOutput` makes t1 a graph output as well.
 */
function streamModel({ paddedHead = false, streamOutput = false } = {}): Uint8Array {
  const r = rng(11), inits: NonNullable<Graph['initializer']> = [], nodes: NonNullable<Graph['node']> = [];
  const conv = (name: string, x: string, cin: number, cout: number, k: number, bias: number[], out: string) => {
    inits.push({ name: `${name}_w`, dataType: 1, dims: [cout, cin, k, k], floatData: Array.from({ length: cout * cin * k * k }, () => (r() - 0.5) / Math.sqrt(cin * k * k)) });
    inits.push({ name: `${name}_b`, dataType: 1, dims: [cout], floatData: bias });
    nodes.push({ opType: 'Conv', name, input: [x, `${name}_w`, `${name}_b`], output: [out], attribute: [{ name: 'kernel_shape', type: A.INTS, ints: [k, k] }, { name: 'pads', type: A.INTS, ints: Array(4).fill(k >> 1) }] });
  };
  const offsets = [8, -6, 3, -2, 0, 5];
  conv('conv0', 'x', 4, 6, 1, offsets, 't0');
  for (const k of [1, 2]) {
    conv(`expand${k}`, `t${k - 1}`, 6, 12, 1, Array(12).fill(0.1), `e${k}`);
    nodes.push({ opType: 'Relu', name: `relu${k}`, input: [`e${k}`], output: [`r${k}`] });
    conv(`project${k}`, `r${k}`, 12, 6, 1, offsets.map((o) => -o / (2 * k)), `p${k}`);
    nodes.push({ opType: 'Add', name: `add${k}`, input: [`t${k - 1}`, `p${k}`], output: [`t${k}`] });
  }
  conv('head', 't2', 6, 3, paddedHead ? 3 : 1, [0, 0, 0], 'y');
  const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'stream', node: nodes, initializer: inits, input: [vi('x', [1, 4, 6, 6])], output: [vi('y', [1, 3, 6, 6]), ...(streamOutput ? [vi('t1', [1, 6, 6, 6])] : [])] },
  })).finish();
}

const input = (seed: number): Tensor => { const r = rng(seed); return tensor('f32', [1, 4, 6, 6], Float32Array.from({ length: 144 }, () => 2 * (r() + r() + r()) - 3)); };
const calibration = Array.from({ length: 8 }, (_, k) => ({ x: input(100 + k) }));
const heldBack = Array.from({ length: 8 }, (_, k) => input(900 + k));
const run = (bytes: Uint8Array, x: Tensor) => { const g = importOnnx(bytes); return toF64(interpret(g, { x })[g.outputs[0]]); };

/** Relative RMS of a's outputs against b's over the held-back inputs. */
function relError(a: Uint8Array, b: Uint8Array): number {
  let num = 0, den = 0;
  for (const x of heldBack) { const p = run(a, x), q = run(b, x); p.forEach((v, i) => { num += (v - q[i]) ** 2; den += q[i] ** 2; }); }
  return Math.sqrt(num / den);
}

describe('residual-stream equalization (cnnc quantize)', () => {
  it('finds the stream: the tensors the Adds join, the convs producing and reading them', () => {
    const model = decodeModel(streamModel());
    const [s, ...rest] = findStreams(model, initializerAccess(model).init);
    expect(rest).toHaveLength(0);
    expect(new Set(s.tensors)).toEqual(new Set(['t0', 'p1', 't1', 'p2', 't2']));
    expect(s.producers.map((n) => n.name)).toEqual(['conv0', 'project1', 'project2']);
    expect(s.consumers.map((n) => n.name)).toEqual(['expand1', 'expand2', 'head']);
    expect(s.shiftable).toBe(true);
    const padded = decodeModel(streamModel({ paddedHead: true }));
    expect(findStreams(padded, initializerAccess(padded).init)[0].shiftable).toBe(false);
    const out = decodeModel(streamModel({ streamOutput: true }));
    expect(findStreams(out, initializerAccess(out).init)).toHaveLength(0);
    // two readers sharing one weight tensor: rescaling it for the stream would change the other
    const sharing = decodeModel(streamModel());
    sharing.graph!.node!.find((n) => n.name === 'expand2')!.input![1] = 'expand1_w';
    expect(findStreams(sharing, initializerAccess(sharing).init)).toHaveLength(0);
  });

  for (const paddedHead of [false, true]) {
    it(`leaves the f32 model's outputs as they were (${paddedHead ? 'padded 3×3 reader: scaled only' : 'centred and scaled'})`, async () => {
      const bytes = streamModel({ paddedHead });
      const model = decodeModel(bytes);
      const lines: string[] = [];
      await equalize(model, calibration, 'reference', 1, (l) => lines.push(l));
      expect(lines).toEqual(['1 residual stream equalized (α = 1)']);
      const after = onnx.ModelProto.encode(model).finish();
      expect(Buffer.from(after).equals(Buffer.from(bytes))).toBe(false);
      expect(relError(after, bytes)).toBeLessThan(1e-6);
      // where shifted, each channel of t1 is centred: its mean over the calibration inputs is near 0 (the offsets were up to ±8)
      if (paddedHead) return;
      model.graph!.output = [...model.graph!.output!, onnx.ValueInfoProto.create({ name: 't1' })];
      const g = importOnnx(onnx.ModelProto.encode(model).finish());
      const mean = new Float64Array(6);
      for (const { x } of calibration) toF64(interpret(g, { x }).t1).forEach((v, i) => { mean[Math.floor(i / 36)] += v / (36 * calibration.length); });
      for (let c = 0; c < 6; c++) expect(Math.abs(mean[c]), `channel ${c}`).toBeLessThan(1.5);
    });
  }

  it('the int8 model is closer to f32 with the streams equalized than without (held-back inputs)', async () => {
    const f32 = streamModel();
    const without = relError(await quantizeOnnx(f32, { calibration, engine: 'reference', equalizeStreams: 0, leadingF32Share: 0 }), f32);
    const withEq = relError(await quantizeOnnx(f32, { calibration, engine: 'reference', leadingF32Share: 0 }), f32);
    expect(withEq, `with ${withEq}, without ${without}`).toBeLessThan(0.6 * without);
  });

  it('bad α: typed errors from the library and the CLI', async () => {
    const f32 = streamModel();
    for (const bad of [-0.5, 1.5, Number.NaN]) await expect(quantizeOnnx(f32, { calibration, equalizeStreams: bad })).rejects.toMatchObject({ code: 'BAD_ATTRIBUTE' });
    const dir = mkdtempSync(join(tmpdir(), 'cnnc-eq-'));
    writeFileSync(join(dir, 'm.onnx'), f32);
    const ROOT = resolve(__dirname, '..');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/cnnc.js'), 'quantize', join(dir, 'm.onnx'), '--calibrate', 'random:2', '-o', join(dir, 'q.onnx'), '--equalize', 'abc'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("--equalize takes a number in [0, 1]; got 'abc'");
  });
});
