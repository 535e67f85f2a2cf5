import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Graph, type Node } from '../ir/graph.js';
import { interpret } from '../ir/interpreter.js';
import { getOp } from '../ir/ops/index.js';
import { printGraph } from '../ir/print.js';
import { verify } from '../ir/verify.js';
import { CnncError, type ErrorCode } from '../runtime/errors.js';
import { tensor, toF64 } from '../runtime/tensor.js';

/** Asserts that f throws a CnncError with this code and place; returns it. */
function expectError(f: () => unknown, code: ErrorCode, place: { node?: string; op?: string; value?: string } = {}): CnncError {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(CnncError);
    const err = e as CnncError;
    expect(err.code).toBe(code);
    expect({ node: err.node, op: err.op, value: err.value }).toMatchObject(place);
    return err;
  }
  throw new Error(`expected a CnncError ${code}`);
}

/** x[2,3] → Relu → Add(bias[3]) → Reshape[3,2]: a small valid graph. */
function smallGraph(): Graph {
  const g = new Graph('small');
  const x = g.addInput('x', { dtype: 'f32', shape: [2, 3] });
  const b = g.addConstant('bias', tensor('f32', [3], [1, 2, 3]));
  const r = g.add('Relu', [x], {}, { name: 'relu' });
  const a = g.add('Add', [r, b], {}, { name: 'add' });
  g.setOutputs([g.add('Reshape', [a], { shape: [3, 2] }, { name: 'reshape' })]);
  return g;
}

const node = (name: string, op: string, inputs: string[], outputs: string[], attrs = {}): Node => ({ name, op, inputs, outputs, attrs });

describe('building a graph: typed errors name the node', () => {
  it('a valid graph infers types, verifies and runs', () => {
    const g = smallGraph();
    verify(g);
    expect(g.type('reshape')).toEqual({ dtype: 'f32', shape: [3, 2] });
    const y = interpret(g, { x: tensor('f32', [2, 3], [-1, 0, 1, 2, -3, 4]) }).reshape;
    expect(Array.from(toF64(y))).toEqual([1, 2, 4, 3, 2, 7]);
  });
  it('mismatched shapes', () => {
    const g = new Graph('t');
    const a = g.addInput('a', { dtype: 'f32', shape: [2, 3] });
    const b = g.addInput('b', { dtype: 'f32', shape: [2, 4] });
    expectError(() => g.add('Add', [a, b], {}, { name: 'sum' }), 'SHAPE_MISMATCH', { node: 'sum', op: 'Add', value: 'b' });
    expectError(() => g.add('MatMul', [a, b], {}, { name: 'mm' }), 'SHAPE_MISMATCH', { node: 'mm', op: 'MatMul' });
    expectError(() => g.add('Concat', [a, b], { axis: 0 }, { name: 'cat' }), 'SHAPE_MISMATCH', { node: 'cat', value: 'b' });
    expectError(() => g.add('Reshape', [a], { shape: [5] }, { name: 'rs' }), 'SHAPE_MISMATCH', { node: 'rs', value: 'a' });
    // A failed add leaves the graph unchanged.
    expect(g.nodes).toEqual([]);
  });
  it('unknown value names, unknown ops, bad attributes', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2] });
    expectError(() => g.add('Relu', ['nope'], {}, { name: 'r' }), 'UNKNOWN_VALUE', { node: 'r', value: 'nope' });
    expectError(() => g.add('Frobnicate', [x], {}, { name: 'f' }), 'UNKNOWN_OP', { node: 'f', op: 'Frobnicate' });
    expectError(() => g.add('Relu', [x], { alpha: 1 }, { name: 'r2' }), 'BAD_ATTRIBUTE', { node: 'r2', op: 'Relu' });
    expectError(() => g.add('Concat', [x], {}, { name: 'c' }), 'BAD_ATTRIBUTE', { node: 'c', op: 'Concat' });
    expectError(() => g.setOutputs(['missing']), 'UNKNOWN_VALUE', { value: 'missing' });
  });
  it('duplicate values', () => {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [2] });
    expectError(() => g.addInput('x', { dtype: 'f32', shape: [2] }), 'DUPLICATE_VALUE', { value: 'x' });
    expectError(() => g.addNode('Relu', [x], {}, { name: 'r', outputs: ['x'] }), 'DUPLICATE_VALUE', { node: 'r', value: 'x' });
    // Constants get a fresh name instead of clashing.
    expect(g.addConstant('x', tensor('f32', [1], [0]))).not.toBe('x');
  });
});

describe('Graph.fromParts (importers): order, cycles, dangling and duplicate names', () => {
  const x = { name: 'x', type: { dtype: 'f32' as const, shape: [4] } };
  it('sorts nodes given out of order and infers their types', () => {
    const g = Graph.fromParts('p', {
      inputs: [x],
      constants: [],
      nodes: [node('second', 'Neg', ['y'], ['z']), node('first', 'Relu', ['x'], ['y'])],
      outputs: ['z'],
    });
    expect(g.nodes.map((n) => n.name)).toEqual(['first', 'second']);
    expect(g.type('z')).toEqual({ dtype: 'f32', shape: [4] });
    verify(g);
  });
  it('a cycle is CYCLE naming a node of it', () => {
    const err = expectError(() => Graph.fromParts('p', {
      inputs: [x],
      constants: [],
      nodes: [node('ok', 'Relu', ['x'], ['y']), node('a', 'Add', ['y', 'c'], ['b']), node('c_node', 'Neg', ['b'], ['c'])],
      outputs: ['c'],
    }), 'CYCLE');
    expect(['a', 'c_node']).toContain(err.node);
    expect(err.message).toMatch(/a, c_node/);
  });
  it('an input no one defines is UNKNOWN_VALUE naming the node and value', () => {
    expectError(() => Graph.fromParts('p', {
      inputs: [x], constants: [], nodes: [node('r', 'Relu', ['ghost'], ['y'])], outputs: ['y'],
    }), 'UNKNOWN_VALUE', { node: 'r', op: 'Relu', value: 'ghost' });
  });
  it('a value defined twice is DUPLICATE_VALUE naming the node', () => {
    expectError(() => Graph.fromParts('p', {
      inputs: [x], constants: [], nodes: [node('r1', 'Relu', ['x'], ['y']), node('r2', 'Neg', ['x'], ['y'])], outputs: ['y'],
    }), 'DUPLICATE_VALUE', { node: 'r2', value: 'y' });
    expectError(() => Graph.fromParts('p', {
      inputs: [x], constants: [], nodes: [node('r1', 'Relu', ['x'], ['x'])], outputs: ['x'],
    }), 'DUPLICATE_VALUE', { node: 'r1', value: 'x' });
  });
  it('shape errors during inference name the node', () => {
    expectError(() => Graph.fromParts('p', {
      inputs: [x, { name: 'w', type: { dtype: 'f32', shape: [3] } }],
      constants: [],
      nodes: [node('add', 'Add', ['x', 'w'], ['y'])],
      outputs: ['y'],
    }), 'SHAPE_MISMATCH', { node: 'add', op: 'Add', value: 'w' });
  });
});

describe('verifier', () => {
  it('catches a tampered recorded type, naming node, op and value', () => {
    const g = smallGraph();
    g.redefine({ name: 'add', type: { dtype: 'f32', shape: [2, 4] } });
    expectError(() => verify(g), 'BAD_GRAPH', { node: 'add', op: 'Add', value: 'add' });
    const h = smallGraph();
    h.redefine({ name: 'relu', type: { dtype: 'f16', shape: [2, 3] } });
    expectError(() => verify(h), 'BAD_GRAPH', { node: 'relu', op: 'Relu', value: 'relu' });
  });
  it('catches nodes out of topological order, an unknown attribute and a missing required one', () => {
    const g = smallGraph();
    g.nodes = [g.nodes[1], g.nodes[0], g.nodes[2]];
    expectError(() => verify(g), 'BAD_GRAPH', { node: 'add', value: 'relu' });
    const h = smallGraph();
    h.nodes[0] = { ...h.nodes[0], attrs: { bogus: 1 } };
    expectError(() => verify(h), 'BAD_ATTRIBUTE', { node: 'relu', op: 'Relu' });
    const k = smallGraph();
    k.nodes[2] = { ...k.nodes[2], attrs: { allowzero: 0 } };
    expectError(() => verify(k), 'BAD_ATTRIBUTE', { node: 'reshape', op: 'Reshape' });
  });
  it('catches a constant whose data does not match its type', () => {
    const g = smallGraph();
    g.redefine({ name: 'bias', type: { dtype: 'f32', shape: [4] }, const: tensor('f32', [3], [1, 2, 3]) });
    expectError(() => verify(g), 'BAD_GRAPH', { value: 'bias' });
  });
});

describe('printer', () => {
  it('prints a header, the constants, one line per node with op, attributes and type, and a closing brace', () => {
    const g = smallGraph();
    const lines = printGraph(g).split('\n');
    expect(lines[0]).toBe('graph small(%x: f32[2,3]) -> (%reshape) {');
    expect(lines).toContain('  %bias = const f32[3]');
    const nodeLines = lines.filter((l) => l.includes('//'));
    expect(nodeLines).toHaveLength(g.nodes.length);
    expect(nodeLines[0]).toBe('  %relu = Relu(%x) : f32[2,3]  // relu');
    expect(nodeLines[2]).toBe('  %reshape = Reshape(%add) {shape=[3,2], allowzero=0} : f32[3,2]  // reshape');
    expect(lines[lines.length - 1]).toBe('}');
    expect(printGraph(g, { constants: false }).split('\n')).toHaveLength(g.nodes.length + 2);
  });
});

describe('interpreter inputs', () => {
  it('a missing, misshapen or unknown input is BAD_INPUT naming the value', () => {
    const g = smallGraph();
    expectError(() => interpret(g, {}), 'BAD_INPUT', { value: 'x' });
    expectError(() => interpret(g, { x: tensor('f32', [3, 2]) }), 'BAD_INPUT', { value: 'x' });
    expectError(() => interpret(g, { x: tensor('f32', [2, 3]), y: tensor('f32', [1]) }), 'BAD_INPUT', { value: 'y' });
  });
});

// ---- hostile attributes and shapes: a typed error or a correct run, never a crash ----

const OPS_UNDER_FUZZ = [
  'Add', 'Div', 'Pow', 'Max', 'PRelu', 'MatMul', 'Gemm', 'Concat', 'Split', 'Slice', 'Reshape', 'Flatten', 'Transpose',
  'Squeeze', 'Unsqueeze', 'Gather', 'Expand', 'Pad', 'Resize', 'ReduceMean', 'Softmax', 'Cast', 'Shape',
  'Tile', 'DepthToSpace', 'SpaceToDepth', 'Less',
] as const;

describe('hostile inputs to the non-spatial ops (property)', () => {
  const dim = fc.integer({ min: 0, max: 3 });
  const shape = fc.array(dim, { maxLength: 4 });
  const weird = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(NaN, Infinity, -Infinity, 1.5, -0.5, 9223372036854775807, -9223372036854775807));
  const ints = fc.array(weird, { maxLength: 5 });
  const attrs = fc.record({
    axis: weird, axes: ints, perm: ints, shape: ints, starts: ints, ends: ints, steps: ints, split: ints, pads: ints,
    num_outputs: weird, allowzero: fc.constantFrom(0, 1), transA: fc.constantFrom(0, 1), transB: fc.constantFrom(0, 1),
    keepdims: fc.constantFrom(0, 1), mode: fc.constantFrom('constant', 'reflect', 'edge', 'wrap', 'nearest', 'linear', 'cubic', 'bogus'),
    scales: fc.array(fc.constantFrom(0, 0.5, 1, 2, 3, NaN, -1), { maxLength: 4 }), sizes: ints, to: fc.constantFrom('f32', 'i64', 'bool', 'f64'),
    start: weird, end: weird, repeats: ints, blocksize: weird,
  }, { requiredKeys: [] });

  it('every op either raises a CnncError while building or runs to the inferred types', () => {
    fc.assert(fc.property(fc.constantFrom(...OPS_UNDER_FUZZ), shape, shape, fc.constantFrom('f32', 'i32'), attrs, (op, s0, s1, dtype, a) => {
      const g = new Graph('fuzz');
      const x0 = g.addInput('x0', { dtype: 'f32', shape: s0 });
      const x1 = op === 'Gather'
        ? g.addConstant('idx', tensor('i64', s1, s1.length ? new Array(s1.reduce((p, d) => p * d, 1)).fill(1) : [1]))
        : g.addInput('x1', { dtype: op === 'Pow' ? dtype : 'f32', shape: s1 });
      const binary = ['Add', 'Div', 'Pow', 'Max', 'PRelu', 'MatMul', 'Gemm', 'Concat', 'Gather', 'Less'].includes(op);
      // Keep only the attributes the op declares (unknown ones are a separate, tested error).
      const spec = getOp(op).attrs;
      const given = Object.fromEntries(Object.entries(a).filter(([k]) => k in spec));
      let outs: string[];
      try {
        outs = g.addNode(op, binary ? [x0, x1] : [x0], given);
      } catch (e) {
        if (!(e instanceof CnncError)) throw e;
        return;
      }
      for (const o of outs) {
        const t = g.type(o);
        expect(t.shape.every((d) => Number.isInteger(d) && d >= 0)).toBe(true);
      }
      g.setOutputs(outs);
      verify(g);
      const feeds: Record<string, ReturnType<typeof tensor>> = { x0: tensor('f32', s0, new Array(s0.reduce((p, d) => p * d, 1)).fill(0.5)) };
      if (g.inputs.includes('x1')) feeds.x1 = tensor(op === 'Pow' ? dtype : 'f32', s1, new Array(s1.reduce((p, d) => p * d, 1)).fill(2));
      try {
        interpret(g, feeds);
      } catch (e) {
        if (!(e instanceof CnncError) || e.code === 'KERNEL_ERROR') throw e;
      }
    }), { numRuns: 3000 });
  });
});
