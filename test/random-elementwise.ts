/**
 * Random elementwise graphs for the fusion tests: chains and diamonds of every registry op with a
 * scalar formula (unary, binary, variadic), operands broadcast from per-channel vectors, rows,
 * one-element constants and other inputs, barriers that are not elementwise (Softmax, a Transpose
 * pair) so groups must stay convex, several graph outputs (intermediates read outside their
 * group), and inputs salted with NaN, ±Inf and ±0.
 */
import { Graph } from '../ir/graph.js';
import { allOps } from '../ir/ops/index.js';
import type { TensorMap } from '../ir/interpreter.js';
import { fromF64 } from '../runtime/tensor.js';
import { sizeOf } from '../ir/types.js';
import { rng } from './passes/helpers.js';

/** Registry ops with a formula that take f32 and give f32 (found from the traits, not listed). */
function formulaOps(): { name: string; arity: number }[] {
  return allOps().filter((d) => d.traits.elementwise && d.traits.scalar && d.name !== 'FusedElementwise').flatMap((d) => {
    try {
      const g = new Graph('probe');
      const n = Math.max(1, d.inputs[0]);
      const ins = Array.from({ length: n }, (_, i) => g.addInput(`x${i}`, { dtype: 'f32', shape: [2] }));
      return g.addNode(d.name, ins).every((o) => g.type(o).dtype === 'f32') ? [{ name: d.name, arity: d.inputs[1] === Infinity ? 3 : n }] : [];
    } catch {
      return [];
    }
  });
}

const OPS = formulaOps();

/** A random elementwise graph (f32) from a seed: `steps` ops over values already built. */
export function randomElementwise(seed: number, steps: number): Graph {
  const g = new Graph(`eltwise_${seed}`);
  g.setOutputs(addRandomElementwise(g, seed, steps));
  return g;
}

/** `count` independent random graphs side by side in one graph (one build for the slow targets). */
export function randomElementwiseBatch(seed: number, count: number, steps: number): Graph {
  const g = new Graph(`eltwise_batch_${seed}`);
  g.setOutputs(Array.from({ length: count }, (_, i) => addRandomElementwise(g, seed * 1000 + i, steps, `g${i}_`)).flat());
  return g;
}

/** Adds one random elementwise subgraph to `g` (input and constant names start with `prefix`); returns its outputs. */
function addRandomElementwise(g: Graph, seed: number, steps: number, prefix = ''): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const C = pick([1, 2, 3, 5]), H = pick([1, 2, 3]), W = pick([1, 3, 4, 7, 9]);
  const full = [1, C, H, W];
  const vals = [g.addInput(`${prefix}x`, { dtype: 'f32', shape: full })];
  if (r() < 0.5) vals.push(g.addInput(`${prefix}y`, { dtype: 'f32', shape: full }));
  const chanIn = r() < 0.4 ? g.addInput(`${prefix}s`, { dtype: 'f32', shape: [1, C, 1, 1] }) : undefined;
  let k = 0;
  const constant = (shape: number[]) => g.addConstant(`${prefix}c${k++}`, fromF64('f32', shape, Float64Array.from({ length: sizeOf(shape) }, () => Math.round((r() * 4 - 2) * 8) / 8)));
  /** A second operand: another value, or something that broadcasts onto it. */
  const operand = (): string => pick([
    () => pick(vals), () => pick(vals), () => constant([C, 1, 1]), () => constant([]), () => constant([1]), () => constant([W]),
    () => chanIn ?? constant([1, C, 1, 1]),
  ])();
  for (let i = 0; i < steps; i++) {
    const v = pick(vals.slice(-4));
    const roll = r();
    let out: string;
    if (roll < 0.07) out = g.add('Softmax', [v], { axis: -1 });
    else if (roll < 0.1) out = g.add('Transpose', [g.add('Transpose', [v], { perm: [0, 1, 3, 2] })], { perm: [0, 1, 3, 2] });
    else if (roll < 0.14) out = g.add('Clip', [v], { min: pick([-Infinity, -1, 0]), max: pick([Infinity, 1, 6]) });
    else {
      const op = pick(OPS);
      const ins = [v, ...Array.from({ length: op.arity - 1 }, operand)];
      if (op.name === 'PRelu') ins[1] = constant([C, 1, 1]);
      if (op.name === 'Pow') ins[1] = pick([() => constant([]), () => g.addConstant(`${prefix}c${k++}`, fromF64('f32', [], [pick([2, 3, 0.5, -1])]))])();
      out = g.add(op.name, ins);
    }
    if (g.type(out).shape.join() !== full.join()) out = g.add('Add', [out, vals[0]]); // a broadcast result back to full size
    vals.push(out);
  }
  const extra = vals.slice(1, -1).filter(() => r() < 0.25).slice(0, 2);
  return [vals[vals.length - 1], ...extra.filter((v) => !g.inputs.includes(v))];
}

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30];

/** Inputs uniform in [-3, 3) with about one element in six a special value. */
export function specialInputs(g: Graph, seed: number): TensorMap {
  const r = rng(seed);
  return Object.fromEntries(g.inputs.map((name) => {
    const shape = g.type(name).shape;
    return [name, fromF64('f32', shape, Float64Array.from({ length: sizeOf(shape) }, () => (r() < 1 / 6 ? SPECIAL[Math.floor(r() * SPECIAL.length)] : r() * 6 - 3)))];
  }));
}
