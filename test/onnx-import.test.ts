/**
 * The ONNX importer on hand-built models: every initializer encoding, external data confined to
 * the model folder, size limits checked before allocation, malformed and hostile models giving
 * typed errors that name the node/op/value, and opset differences normalized into one IR form
 * (results checked against hand-computed values through the reference interpreter).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnx, loadOnnxFile, readTensorProto } from '../frontends/onnx/import.js';
import { NOT_IR_DTYPE, onnx } from '../frontends/onnx/proto.js';
import type { Graph } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { verify } from '../ir/verify.js';
import { CnncError } from '../runtime/errors.js';
import { tensor, toF64, type Tensor } from '../runtime/tensor.js';
import { SHARED } from './conformance/runner.js';

// ---- a small ONNX model builder ----
const DT = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 };
type Attr = Record<string, unknown>;
const A = onnx.AttributeProto.AttributeType;
const attr = {
  i: (name: string, i: number): Attr => ({ name, type: A.INT, i }),
  f: (name: string, f: number): Attr => ({ name, type: A.FLOAT, f }),
  ints: (name: string, ints: number[]): Attr => ({ name, type: A.INTS, ints }),
  floats: (name: string, floats: number[]): Attr => ({ name, type: A.FLOATS, floats }),
  s: (name: string, s: string): Attr => ({ name, type: A.STRING, s: new TextEncoder().encode(s) }),
  t: (name: string, t: Attr): Attr => ({ name, type: A.TENSOR, t }),
};
const vi = (name: string, elemType: number, dims: (number | string)[]) =>
  ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
const node = (opType: string, input: string[], output: string[], attribute: Attr[] = [], name = `${opType.toLowerCase()}0`) =>
  ({ opType, input, output, attribute, name });
const f32 = (name: string, dims: number[], floatData: number[]) => ({ name, dims, dataType: DT.FLOAT, floatData });
const i64 = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: DT.INT64, int64Data: v });

interface ModelSpec { nodes: Attr[]; inputs: Attr[]; outputs: Attr[]; inits?: Attr[]; opset?: number }
function model(s: ModelSpec): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: s.opset ?? 13 }],
    graph: { name: 'g', node: s.nodes, input: s.inputs, output: s.outputs, initializer: s.inits ?? [] },
  })).finish();
}

/** A one-input float model around `nodes`, input x of shape `dims`, output y. */
const noShapeOut = (name = 'y') => ({ name, type: { tensorType: { elemType: DT.FLOAT } } });
function unary(nodes: Attr[], dims: number[], opset = 13, inits: Attr[] = []): Uint8Array {
  return model({ nodes, inputs: [vi('x', DT.FLOAT, dims)], outputs: [noShapeOut()], inits, opset });
}

function run(g: Graph, x: number[]): Tensor {
  const t = g.type(g.inputs[0]);
  return interpret(g, { [g.inputs[0]]: tensor('f32', t.shape, x) })[g.outputs[0]];
}

function errorOf(f: () => unknown): CnncError {
  try {
    f();
  } catch (e) {
    if (e instanceof CnncError) return e;
    throw new Error(`expected a CnncError, got ${e}`);
  }
  throw new Error('expected an error, none thrown');
}

const tensorBytes = (t: Attr) => onnx.TensorProto.encode(onnx.TensorProto.create(t)).finish();
const le = (ctor: Float32ArrayConstructor | BigInt64ArrayConstructor | Float64ArrayConstructor, v: number[]) =>
  new Uint8Array((ctor === BigInt64Array ? BigInt64Array.from(v.map(BigInt)) : (ctor as Float32ArrayConstructor).from(v)).buffer);

describe('initializer encodings', () => {
  it('reads raw_data, float_data, int32_data, int64_data and double_data for every IR dtype', () => {
    const cases: [Attr, string, number[]][] = [
      [{ dims: [3], dataType: DT.FLOAT, rawData: le(Float32Array, [1.5, -2, 3.25]) }, 'f32', [1.5, -2, 3.25]],
      [{ dims: [3], dataType: DT.FLOAT, floatData: [1.5, -2, 3.25] }, 'f32', [1.5, -2, 3.25]],
      [{ dims: [2], dataType: DT.FLOAT16, int32Data: [0x3c00, 0xc000] }, 'f16', [1, -2]],
      [{ dims: [2], dataType: DT.FLOAT16, rawData: new Uint8Array([0x00, 0x3c, 0x00, 0xc0]) }, 'f16', [1, -2]],
      [{ dims: [3], dataType: DT.UINT8, int32Data: [0, 7, 255] }, 'u8', [0, 7, 255]],
      [{ dims: [3], dataType: DT.INT8, int32Data: [-128, 0, 127] }, 'i8', [-128, 0, 127]],
      [{ dims: [3], dataType: DT.INT8, rawData: new Uint8Array([0x80, 0, 0x7f]) }, 'i8', [-128, 0, 127]],
      [{ dims: [3], dataType: DT.BOOL, int32Data: [1, 0, 1] }, 'bool', [1, 0, 1]],
      [{ dims: [2], dataType: DT.INT32, int32Data: [-5, 2 ** 30] }, 'i32', [-5, 2 ** 30]],
      [{ dims: [2, 1], dataType: DT.INT64, int64Data: [-3, 2 ** 40] }, 'i64', [-3, 2 ** 40]],
      [{ dims: [2], dataType: DT.INT64, rawData: le(BigInt64Array, [-3, 2 ** 40]) }, 'i64', [-3, 2 ** 40]],
      [{ dims: [2], dataType: DT.DOUBLE, doubleData: [0.25, -8] }, 'f64', [0.25, -8]],
      [{ dims: [2], dataType: DT.DOUBLE, rawData: le(Float64Array, [0.25, -8]) }, 'f64', [0.25, -8]],
      [{ dims: [], dataType: DT.FLOAT, floatData: [7] }, 'f32', [7]],
    ];
    for (const [proto, dtype, values] of cases) {
      const t = readTensorProto(tensorBytes(proto));
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual((proto.dims as number[]));
      expect(Array.from(toF64(t))).toEqual(values);
    }
  });

  it('rejects data that does not match the declared dims, and dtypes outside the IR', () => {
    const e1 = errorOf(() => readTensorProto(tensorBytes({ name: 'w', dims: [4], dataType: DT.FLOAT, rawData: new Uint8Array(12) })));
    expect([e1.code, e1.value]).toEqual(['BAD_MODEL', 'w']);
    const e2 = errorOf(() => readTensorProto(tensorBytes({ name: 'w', dims: [2, 2], dataType: DT.FLOAT, floatData: [1, 2, 3] })));
    expect([e2.code, e2.value]).toEqual(['BAD_MODEL', 'w']);
    const e3 = errorOf(() => readTensorProto(tensorBytes({ name: 'w', dims: [1], dataType: DT.STRING, stringData: [new Uint8Array([65])] })));
    expect(e3.code).toBe('UNSUPPORTED');
    expect(e3.message).toContain(NOT_IR_DTYPE);
  });

  it('imports a model whose weights use float_data, f16 int32_data and int64 raw data, and computes with them', () => {
    const bytes = unary([
      node('Cast', ['h'], ['hf'], [attr.i('to', DT.FLOAT)], 'cast0'),
      node('Add', ['x', 'w'], ['s']),
      node('Mul', ['s', 'hf'], ['m']),
      node('Reshape', ['m', 'shape'], ['y']),
    ], [2, 2], 14, [
      f32('w', [2], [1, 2]),
      { name: 'h', dims: [2], dataType: DT.FLOAT16, int32Data: [0x4000, 0x3800] }, // 2, 0.5
      { name: 'shape', dims: [1], dataType: DT.INT64, rawData: le(BigInt64Array, [4]) },
    ]);
    const g = importOnnx(bytes);
    verify(g);
    expect(g.nodes.find((n) => n.op === 'Reshape')!.attrs.shape).toEqual([4]);
    expect(Array.from(toF64(run(g, [1, 2, 3, 4])))).toEqual([4, 2, 8, 3]);
  });
});

describe('external data', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnnc-ext-'));
  const dir = path.join(root, 'model');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'outside.bin'), le(Float32Array, [9, 9, 9]));
  // 8 bytes of junk, then the three floats.
  fs.writeFileSync(path.join(dir, 'sub', 'w.bin'), new Uint8Array([...new Uint8Array(8), ...le(Float32Array, [1, 2, 3])]));
  fs.symlinkSync(path.join(root, 'outside.bin'), path.join(dir, 'link.bin'));

  const withLocation = (location: string, offset = 0, length = 12) => unary([node('Add', ['x', 'w'], ['y'])], [3], 13, [{
    name: 'w', dims: [3], dataType: DT.FLOAT, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(length) }],
  }]);
  const load = (bytes: Uint8Array, opts = {}) => {
    fs.writeFileSync(path.join(dir, 'model.onnx'), bytes);
    return loadOnnxFile(path.join(dir, 'model.onnx'), opts);
  };

  it('reads a tensor at an offset in a file inside the model folder', () => {
    const g = load(withLocation('sub/w.bin', 8));
    expect(Array.from(toF64(run(g, [10, 20, 30])))).toEqual([11, 22, 33]);
  });

  it('refuses absolute paths, .. escapes and symlinks leading out of the folder (BAD_PATH)', () => {
    for (const loc of [path.join(root, 'outside.bin'), '../outside.bin', 'sub/../../outside.bin', 'link.bin']) {
      const e = errorOf(() => load(withLocation(loc)));
      expect([e.code, e.value], loc).toEqual(['BAD_PATH', 'w']);
    }
    expect(errorOf(() => importOnnx(withLocation('sub/w.bin', 8))).code).toBe('BAD_PATH'); // no model folder given
  });

  it('rejects ranges past the end of the file and lengths over the size limit', () => {
    expect(errorOf(() => load(withLocation('sub/w.bin', 16))).code).toBe('BAD_MODEL');
    expect(errorOf(() => load(withLocation('sub/w.bin', 8, 16))).code).toBe('BAD_MODEL');
    expect(errorOf(() => load(withLocation('sub/w.bin', 8), { maxTensorBytes: 8 })).code).toBe('TOO_LARGE');
  });
});

describe('size limits are checked before allocating', () => {
  it('rejects an initializer declaring petabytes without allocating it', () => {
    const bytes = unary([node('Add', ['x', 'w'], ['y'])], [1], 13, [{ name: 'w', dims: [2 ** 20, 2 ** 20, 2 ** 10], dataType: DT.FLOAT }]);
    const e = errorOf(() => importOnnx(bytes));
    expect([e.code, e.value]).toEqual(['TOO_LARGE', 'w']);
    expect(e.message).toContain('4503599627370496 bytes');
  });

  it('honours a configurable limit', () => {
    const bytes = unary([node('Add', ['x', 'w'], ['y'])], [64], 13, [f32('w', [64], new Array(64).fill(1))]);
    expect(importOnnx(bytes).nodes).toHaveLength(1);
    expect(errorOf(() => importOnnx(bytes, { maxTensorBytes: 100 })).code).toBe('TOO_LARGE');
  });

  it('rejects computed values over the limit (Expand to a huge shape) at import', () => {
    const e = errorOf(() => importOnnx(unary([node('Expand', ['x', 's'], ['y'])], [1], 13, [i64('s', [1000, 1000])]), { maxTensorBytes: 1e6 }));
    expect([e.code, e.node, e.value], e.message).toEqual(['TOO_LARGE', 'expand0', 'y']);
  });

  it('rejects graph inputs declared over the limit', () => {
    const bytes = model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, [1e6, 1e6])], outputs: [noShapeOut()] });
    expect([errorOf(() => importOnnx(bytes)).code, errorOf(() => importOnnx(bytes)).value]).toEqual(['TOO_LARGE', 'x']);
  });
});

describe('malformed protobuf', () => {
  const lenet = fs.readFileSync(path.join(SHARED, 'models/lenet5/model.onnx'));

  it('gives BAD_MODEL for random bytes and empty input', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (const n of [0, 1, 7, 100, 4096]) {
      const bytes = Uint8Array.from({ length: n }, rnd);
      expect(errorOf(() => importOnnx(bytes)).code, `${n} random bytes`).toBe('BAD_MODEL');
    }
  });

  it('gives a CnncError for every truncation of a real model', () => {
    for (const at of [1, 10, 100, 1000, 50_000, 200_000, lenet.length - 100, lenet.length - 1]) {
      const e = errorOf(() => importOnnx(lenet.subarray(0, at)));
      expect(['BAD_MODEL', 'UNKNOWN_VALUE']).toContain(e.code);
    }
  });
});

describe('graph errors name the node, op and value', () => {
  it('wrong dtypes: Conv on int32 data', () => {
    const bytes = model({
      nodes: [node('Conv', ['x', 'w'], ['y'], [attr.ints('kernel_shape', [1, 1])])],
      inputs: [vi('x', DT.INT32, [1, 1, 2, 2])], outputs: [noShapeOut()], inits: [f32('w', [1, 1, 1, 1], [1])],
    });
    const e = errorOf(() => importOnnx(bytes));
    expect([e.code, e.node, e.op]).toEqual(['DTYPE_MISMATCH', 'conv0', 'Conv']);
  });

  it('shape mismatches: Add of [2,3] and [4,5]', () => {
    const bytes = unary([node('Add', ['x', 'w'], ['y'])], [2, 3], 13, [f32('w', [4, 5], new Array(20).fill(0))]);
    const e = errorOf(() => importOnnx(bytes));
    expect([e.code, e.node, e.op]).toEqual(['SHAPE_MISMATCH', 'add0', 'Add']);
  });

  it('cycles', () => {
    const bytes = unary([node('Relu', ['b'], ['a'], [], 'r1'), node('Relu', ['a'], ['b'], [], 'r2'), node('Add', ['x', 'a'], ['y'])], [2]);
    const e = errorOf(() => importOnnx(bytes));
    expect(e.code).toBe('CYCLE');
    expect(['r1', 'r2', 'add0']).toContain(e.node);
  });

  it('missing and duplicate value names', () => {
    const missing = errorOf(() => importOnnx(unary([node('Relu', ['nope'], ['y'])], [2])));
    expect([missing.code, missing.node, missing.value]).toEqual(['UNKNOWN_VALUE', 'relu0', 'nope']);
    const twice = errorOf(() => importOnnx(unary([node('Relu', ['x'], ['y'], [], 'a'), node('Tanh', ['x'], ['y'], [], 'b')], [2])));
    expect([twice.code, twice.value]).toEqual(['DUPLICATE_VALUE', 'y']);
    const init = errorOf(() => importOnnx(unary([node('Add', ['x', 'w'], ['y'])], [1], 13, [f32('w', [1], [1]), f32('w', [1], [2])])));
    expect([init.code, init.value]).toEqual(['DUPLICATE_VALUE', 'w']);
    const out = errorOf(() => importOnnx(model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, [2])], outputs: [noShapeOut('z')] })));
    expect([out.code, out.value]).toEqual(['UNKNOWN_VALUE', 'z']);
  });

  it('a declared output type that disagrees with the graph', () => {
    const e = errorOf(() => importOnnx(model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, [2])], outputs: [vi('y', DT.INT64, [2])] })));
    expect([e.code, e.value]).toEqual(['DTYPE_MISMATCH', 'y']);
    const s = errorOf(() => importOnnx(model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, [2])], outputs: [vi('y', DT.FLOAT, [3])] })));
    expect([s.code, s.value]).toEqual(['SHAPE_MISMATCH', 'y']);
  });

  it('one UNKNOWN_OP error lists every unsupported op with its nodes and the opset', () => {
    const bytes = unary([
      node('FooOp', ['x'], ['a'], [], 'foo1'), node('Relu', ['a'], ['b']), node('BarOp', ['b'], ['c'], [], 'bar1'), node('FooOp', ['c'], ['y'], [], 'foo2'),
    ], [2], 15);
    const e = errorOf(() => importOnnx(bytes));
    expect(e.code).toBe('UNKNOWN_OP');
    expect(e.message).toContain('FooOp (opset 15; nodes foo1, foo2)');
    expect(e.message).toContain('BarOp (opset 15; node bar1)');
    expect([e.node, e.op]).toEqual(['foo1', 'FooOp']);
  });

  it('symbolic dimensions: the batch is bound, any other is an error naming the input', () => {
    const bytes = model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, ['N', 3])], outputs: [vi('y', DT.FLOAT, ['N', 3])] });
    expect(importOnnx(bytes).type('x').shape).toEqual([1, 3]);
    expect(importOnnx(bytes, { batch: 4 }).type('y').shape).toEqual([4, 3]);
    const other = model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [vi('x', DT.FLOAT, [1, 'C'])], outputs: [noShapeOut()] });
    const e = errorOf(() => importOnnx(other));
    expect([e.code, e.value]).toEqual(['UNSUPPORTED', 'x']);
    expect(e.message).toContain("'C'");
  });
});

describe('opset differences normalize into one IR form', () => {
  const values = (g: Graph, x: number[]) => Array.from(toF64(run(g, x)));

  it('Clip: min/max attributes before opset 11, inputs after', () => {
    const old = importOnnx(unary([node('Clip', ['x'], ['y'], [attr.f('min', -1), attr.f('max', 1)])], [4], 6));
    const neu = importOnnx(unary([node('Clip', ['x', 'lo', 'hi'], ['y'])], [4], 13, [f32('lo', [], [-1]), f32('hi', [], [1])]));
    for (const g of [old, neu]) {
      expect(g.nodes.map((n) => [n.op, n.attrs.min, n.attrs.max])).toEqual([['Clip', -1, 1]]);
      expect(values(g, [-2, -0.5, 0.5, 2])).toEqual([-1, -0.5, 0.5, 1]);
    }
    const open = importOnnx(unary([node('Clip', ['x', '', 'hi'], ['y'])], [2], 13, [f32('hi', [], [0])]));
    expect(values(open, [-3, 3])).toEqual([-3, 0]);
  });

  it('Squeeze/Unsqueeze axes: attribute before opset 13, input after; Squeeze without axes drops every 1', () => {
    for (const [opset, nodes, inits] of [
      [11, [node('Unsqueeze', ['x'], ['u'], [attr.ints('axes', [0])]), node('Squeeze', ['u'], ['y'], [attr.ints('axes', [0, 2])])], []],
      [13, [node('Unsqueeze', ['x', 'a0'], ['u']), node('Squeeze', ['u', 'a02'], ['y'])], [i64('a0', [0]), i64('a02', [0, 2])]],
    ] as const) {
      const g = importOnnx(unary([...nodes], [2, 1, 3], opset, [...inits]));
      expect(g.type('y').shape).toEqual([2, 3]);
    }
    expect(importOnnx(unary([node('Squeeze', ['x'], ['y'])], [1, 2, 1, 3])).type('y').shape).toEqual([2, 3]);
  });

  it('Pad: pads attribute (opset 2) and pads/constant_value inputs (opset 11) agree', () => {
    const old = importOnnx(unary([node('Pad', ['x'], ['y'], [attr.ints('pads', [1, 0]), attr.f('value', 5)])], [2], 2));
    const neu = importOnnx(unary([node('Pad', ['x', 'p', 'v'], ['y'])], [2], 11, [i64('p', [1, 0]), f32('v', [], [5])]));
    for (const g of [old, neu]) expect(values(g, [1, 2])).toEqual([5, 1, 2]);
    const reflect = importOnnx(unary([node('Pad', ['x', 'p'], ['y'], [attr.s('mode', 'reflect')])], [3], 13, [i64('p', [2, 1])]));
    expect(values(reflect, [1, 2, 3])).toEqual([3, 2, 1, 2, 3, 2]);
  });

  it('Softmax before opset 13 coerces to 2-D at axis; from 13 it normalizes one axis', () => {
    const x = [0, 1, 2, 3, 4, 5, 6, 7];
    const old = values(importOnnx(unary([node('Softmax', ['x'], ['y'], [attr.i('axis', 1)])], [2, 2, 2], 11)), x);
    const neu = values(importOnnx(unary([node('Softmax', ['x'], ['y'], [attr.i('axis', 1)])], [2, 2, 2], 13)), x);
    const e = (v: number[]) => v.map(Math.exp);
    const norm = (v: number[]) => { const s = v.reduce((a, b) => a + b, 0); return v.map((q) => q / s); };
    const want11 = [...norm(e([0, 1, 2, 3])), ...norm(e([4, 5, 6, 7]))];
    const p = norm(e([0, 2])); // axis 1 pairs (0,2), (1,3), (4,6), (5,7) all differ by 2
    const want13 = [p[0], p[0], p[1], p[1], p[0], p[0], p[1], p[1]];
    old.forEach((v, i) => expect(v).toBeCloseTo(want11[i], 6));
    neu.forEach((v, i) => expect(v).toBeCloseTo(want13[i], 6));
  });

  it('Split: split attribute (11), split input (13), num_outputs with an uneven last part (18)', () => {
    const shapes = (g: Graph) => g.outputs.map((o) => g.type(o).shape[0]);
    const outs = [noShapeOut('y'), noShapeOut('z')];
    const mk = (opset: number, n: Attr, inits: Attr[] = []) => importOnnx(model({ nodes: [n], inputs: [vi('x', DT.FLOAT, [5])], outputs: outs, inits, opset }));
    expect(shapes(mk(11, node('Split', ['x'], ['y', 'z'], [attr.ints('split', [1, 4])])))).toEqual([1, 4]);
    expect(shapes(mk(13, node('Split', ['x', 's'], ['y', 'z']), [i64('s', [2, 3])]))).toEqual([2, 3]);
    expect(shapes(mk(18, node('Split', ['x'], ['y', 'z'], [attr.i('num_outputs', 2)])))).toEqual([3, 2]);
  });

  it('Upsample (opset 9) and Resize (opset 10) are nearest/asymmetric IR Resizes', () => {
    const up = importOnnx(unary([node('Upsample', ['x', 's'], ['y'])], [1, 1, 1, 2], 9, [f32('s', [4], [1, 1, 2, 2])]));
    const rs = importOnnx(unary([node('Resize', ['x', 's'], ['y'])], [1, 1, 1, 2], 10, [f32('s', [4], [1, 1, 2, 2])]));
    for (const g of [up, rs]) {
      expect(g.nodes[0].op).toBe('Resize');
      expect(values(g, [1, 2])).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
    }
  });

  it('ReduceMean axes: attribute up to opset 17, input from 18', () => {
    const a = importOnnx(unary([node('ReduceMean', ['x'], ['y'], [attr.ints('axes', [1]), attr.i('keepdims', 0)])], [2, 2], 13));
    const b = importOnnx(unary([node('ReduceMean', ['x', 'ax'], ['y'], [attr.i('keepdims', 0)])], [2, 2], 18, [i64('ax', [1])]));
    for (const g of [a, b]) expect(values(g, [1, 3, 5, 9])).toEqual([2, 7]);
  });

  it('BatchNormalization with unused training outputs, Dropout and Identity import as inference graphs', () => {
    const bytes = unary([
      node('BatchNormalization', ['x', 'sc', 'b', 'm', 'v'], ['bn', 'rm', 'rv', 'sm', 'sv'], [attr.f('epsilon', 0), attr.i('spatial', 1)]),
      node('Dropout', ['bn'], ['d', 'mask'], [attr.f('ratio', 0.5)]),
      node('Identity', ['d'], ['y']),
    ], [1, 2, 1, 1], 9, [f32('sc', [2], [2, 1]), f32('b', [2], [1, 0]), f32('m', [2], [0, 1]), f32('v', [2], [1, 4])]);
    const g = importOnnx(bytes);
    expect(g.nodes.map((n) => n.op)).toEqual(['BatchNormalization', 'Identity']);
    expect(values(g, [3, 5])).toEqual([7, 2]);
  });

  it('Constant nodes and Shape→Gather→Unsqueeze→Concat→Reshape chains fold to constants', () => {
    const g = importOnnx(unary([
      node('Shape', ['x'], ['s']),
      node('Constant', [], ['i0'], [attr.t('value', { dims: [], dataType: DT.INT64, int64Data: [0] })]),
      node('Gather', ['s', 'i0'], ['n'], [attr.i('axis', 0)]),
      node('Unsqueeze', ['n', 'a0'], ['n1']),
      node('Constant', [], ['m1'], [attr.ints('value_ints', [-1])]),
      node('Concat', ['n1', 'm1'], ['shape'], [attr.i('axis', 0)]),
      node('Reshape', ['x', 'shape'], ['y']),
    ], [2, 3, 4], 13, [i64('a0', [0])]));
    expect(g.nodes.map((n) => [n.op, n.attrs.shape])).toEqual([['Reshape', [2, -1]]]);
    expect(g.type('y').shape).toEqual([2, 12]);
    expect([...g.values.values()].filter((v) => v.const)).toEqual([]); // folded constants that fed attributes are dropped
  });

  it('auto_pad SAME_UPPER keeps the spatial size of a strided Conv', () => {
    const g = importOnnx(unary([node('Conv', ['x', 'w'], ['y'], [attr.s('auto_pad', 'SAME_UPPER'), attr.ints('strides', [2, 2])])],
      [1, 1, 5, 5], 13, [f32('w', [1, 1, 3, 3], new Array(9).fill(1))]));
    expect(g.type('y').shape).toEqual([1, 1, 3, 3]);
    expect(values(g, new Array(25).fill(1))).toEqual([4, 6, 4, 6, 9, 6, 4, 6, 4]);
  });

  it('takes constant-valued graph inputs from inputValues (ONNX node tests) and keeps them graph inputs', () => {
    const bytes = model({
      nodes: [node('Reshape', ['x', 'shape'], ['y'])],
      inputs: [vi('x', DT.FLOAT, [2, 3]), vi('shape', DT.INT64, [2])], outputs: [noShapeOut()],
    });
    const e = errorOf(() => importOnnx(bytes));
    expect([e.code, e.value]).toEqual(['UNSUPPORTED', 'shape']);
    const g = importOnnx(bytes, { inputValues: { shape: tensor('i64', [2], BigInt64Array.of(3n, 2n)) } });
    expect(g.type('y').shape).toEqual([3, 2]);
    expect(g.inputs).toEqual(['x', 'shape']);
  });
});
