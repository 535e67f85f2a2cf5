/**
 * Findings 2, 4, 13 at import: external data that is a FIFO (no hang, typed error), attribute types
 * checked once against the op definition (ONNX and DSL), opset above the newest known, no outputs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importOnnx, loadOnnxFile, MAX_OPSET } from '../frontends/onnx/import.js';
import { onnx } from '../frontends/onnx/proto.js';
import { Graph } from '../ir/graph.js';
import { errorOf } from './op-harness.js';

const A = onnx.AttributeProto.AttributeType;
type Attr = Record<string, unknown>;
const f = (name: string, v: number): Attr => ({ name, type: A.FLOAT, f: v });
const s = (name: string, v: string): Attr => ({ name, type: A.STRING, s: new TextEncoder().encode(v) });
const floats = (name: string, v: number[]): Attr => ({ name, type: A.FLOATS, floats: v });
const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const f32 = (name: string, dims: number[], floatData: number[]) => ({ name, dims, dataType: 1, floatData });

function model(nodes: Attr[], opts: { inits?: Attr[]; opset?: number; outputs?: Attr[]; dims?: number[] } = {}): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opts.opset ?? 13 }],
    graph: { name: 'g', node: nodes, input: [vi('x', opts.dims ?? [1, 4])], output: opts.outputs ?? [{ name: 'y' }], initializer: opts.inits ?? [] },
  })).finish();
}
const node = (opType: string, input: string[], attribute: Attr[] = []) => ({ opType, input, output: ['y'], attribute, name: 'n0' });

describe('external data must be a regular file (finding 2)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnnc-fifo-'));
  let fifo = true;
  try { execFileSync('mkfifo', [path.join(dir, 'w.bin')]); } catch { fifo = false; }
  const bytes = model([node('Add', ['x', 'w'])], {
    inits: [{ name: 'w', dims: [4], dataType: 1, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData: [{ key: 'location', value: 'w.bin' }] }],
  });

  it.skipIf(!fifo)('a FIFO in the model folder is BAD_PATH, without blocking', () => {
    fs.writeFileSync(path.join(dir, 'model.onnx'), bytes);
    const e = errorOf(() => loadOnnxFile(path.join(dir, 'model.onnx')));
    expect([e.code, e.value]).toEqual(['BAD_PATH', 'w']);
    expect(e.message).toContain("'w.bin' is not a regular file");
  });

  it('a folder named as external data is BAD_PATH', () => {
    const d2 = fs.mkdtempSync(path.join(os.tmpdir(), 'cnnc-dir-'));
    fs.mkdirSync(path.join(d2, 'w.bin'));
    fs.writeFileSync(path.join(d2, 'model.onnx'), bytes);
    expect(errorOf(() => loadOnnxFile(path.join(d2, 'model.onnx'))).code).toBe('BAD_PATH');
  });

  it.skipIf(!fifo)('a model path that is a FIFO is IO_ERROR, without blocking', () => {
    const e = errorOf(() => loadOnnxFile(path.join(dir, 'w.bin')));
    expect(e.code).toBe('IO_ERROR');
    expect(e.message).toMatch(/not a regular file/);
  });
});

describe('attribute types are checked at import against the op definition (finding 4)', () => {
  const gemmInits = [f32('b', [4, 2], new Array(8).fill(1))];
  const bnInits = ['s', 'bias', 'm', 'v'].map((n) => f32(n, [2], [1, 1]));
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['LeakyRelu alpha="big"', model([node('LeakyRelu', ['x'], [s('alpha', 'big')])]), 'alpha', /must be a number, got a string "big"/],
    ['HardSigmoid alpha=[1,2]', model([node('HardSigmoid', ['x'], [floats('alpha', [1, 2])])]), 'alpha', /must be a number, got a list \[1,2\]/],
    ['Gemm alpha="2"', model([node('Gemm', ['x', 'b'], [s('alpha', '2')])], { inits: gemmInits }), 'alpha', /must be a number, got a string "2"/],
    ['BatchNormalization epsilon="1e-5"', model([node('BatchNormalization', ['x', 's', 'bias', 'm', 'v'], [s('epsilon', '1e-5')])], { inits: bnInits, dims: [1, 2, 2, 2] }), 'epsilon', /must be a number, got a string "1e-5"/],
    ['Elu alpha as a list', model([node('Elu', ['x'], [floats('alpha', [1])])]), 'alpha', /must be a number/],
    ['Conv auto_pad as a float', model([node('Conv', ['x', 'k'], [f('auto_pad', 1)])], { inits: [f32('k', [1, 1, 1, 1], [1])], dims: [1, 1, 2, 2] }), 'auto_pad', /must be (a )?string, got (a number )?1/],
  ];
  for (const [what, bytes, attr, msg] of cases) {
    it(`${what} → BAD_ATTRIBUTE naming node, attribute, expected and got`, () => {
      const e = errorOf(() => importOnnx(bytes));
      expect(e.code).toBe('BAD_ATTRIBUTE');
      expect(e.node).toBe('n0');
      expect(e.message).toContain(`'${attr}'`);
      expect(e.message).toMatch(msg);
    });
  }

  it('the DSL path gets the same check', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 4] });
    const e = errorOf(() => g.add('LeakyRelu', [x], { alpha: 'big' }, { name: 'lr' }));
    expect([e.code, e.node]).toEqual(['BAD_ATTRIBUTE', 'lr']);
    expect(e.message).toMatch(/'alpha' must be a number, got a string "big"/);
    expect(errorOf(() => g.add('Transpose', [x], { perm: ['a', 'b'] as unknown as number[] })).message).toMatch(/'perm' must be a list/);
  });
});

describe('smaller import findings (13)', () => {
  it(`opset 99 is refused, naming the newest known (${MAX_OPSET})`, () => {
    const e = errorOf(() => importOnnx(model([node('Relu', ['x'])], { opset: 99 })));
    expect(e.code).toBe('UNSUPPORTED');
    expect(e.message).toContain(`opset 99; this importer knows opsets up to ${MAX_OPSET}`);
    expect(importOnnx(model([node('Relu', ['x'])], { opset: MAX_OPSET })).nodes).toHaveLength(1);
  });

  it('a model with no outputs is BAD_MODEL', () => {
    const e = errorOf(() => importOnnx(model([node('Relu', ['x'])], { outputs: [] })));
    expect(e.code).toBe('BAD_MODEL');
    expect(e.message).toMatch(/no outputs/);
  });
});
