/**
 * The target registry (codegen/targets.ts) and the Target contract (codegen/target.ts) as compile()
 * uses them: every entry loads to a Target with the registry's facts, an unknown name is refused
 * naming the targets, and compile() refuses every unsupported node in one error before emitting.
 */
import { describe, expect, it, vi } from 'vitest';
import { compile } from '../index.js';
import { getTarget, TARGET_NAMES, TARGETS } from '../codegen/targets.js';
import type { Target } from '../codegen/target.js';
import { Graph } from '../ir/graph.js';
import { CnncError } from '../runtime/errors.js';
import { tensor } from '../runtime/tensor.js';
import { randomConstant } from './passes/helpers.js';

describe('target registry', () => {
  it('lists the reference interpreter and the three code generators, each loading to a Target with its facts', async () => {
    expect(TARGET_NAMES).toEqual(['reference', 'wasm', 'wgsl', 'cuda']);
    for (const name of TARGET_NAMES) {
      const t = await getTarget(name);
      expect(t.name).toBe(name);
      expect(t.doc).toBe(TARGETS[name].doc);
      expect(t.defaults).toEqual(TARGETS[name].defaults);
      expect(t.doc.length).toBeGreaterThan(0);
      expect(await getTarget(name)).toBe(t); // loaded once
    }
  });

  it('an unknown target is UNSUPPORTED naming the targets there are, from getTarget and from compile()', async () => {
    await expect(getTarget('tpu')).rejects.toThrow(/no target 'tpu' \(targets: reference, wasm, wgsl, cuda\)/);
    const g = new Graph('t');
    g.setOutputs([g.add('Relu', [g.addInput('x', { dtype: 'f32', shape: [1, 4] })])]);
    const err = await compile(g, 'tpu' as never).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('UNSUPPORTED');
  });

  it('the reference target runs the interpreter and has no artifact', async () => {
    const g = new Graph('t');
    g.setOutputs([g.add('Relu', [g.addInput('x', { dtype: 'f32', shape: [1, 3] })])]);
    const m = await compile(g, 'reference');
    expect(Array.from((await m.run({ x: tensor('f32', [1, 3], new Float32Array([-1, 0, 2])) }))[g.outputs[0]].data as Float32Array)).toEqual([0, 0, 2]);
    expect(m.stats).toEqual({ arenaBytes: 0, weightBytes: 0, kernels: 0 });
    expect(() => m.save()).toThrow(/no artifact/);
  });
});

describe('compile() refuses unsupported nodes up front', () => {
  /** x → Sigmoid → Conv → Sigmoid → Relu, with the two Sigmoids named. */
  function graph(): Graph {
    const g = new Graph('t');
    const x = g.addInput('x', { dtype: 'f32', shape: [1, 2, 4, 4] });
    let v = g.add('Sigmoid', [x], {}, { name: 'first_sigmoid' });
    v = g.add('Conv', [v, randomConstant(g, 'w', [2, 2, 1, 1], 1)]);
    v = g.add('Sigmoid', [v], {}, { name: 'second_sigmoid' });
    g.setOutputs([g.add('Relu', [v])]);
    return g;
  }

  it('one UNSUPPORTED error names every node at fault with its op and reason; nothing is emitted', async () => {
    const wasm = await getTarget('wasm');
    const emit = vi.fn(wasm.compile);
    const picky: Target = {
      ...wasm,
      name: 'picky',
      supports: (n, g) => (n.op === 'Sigmoid' ? 'no sigmoid on this target' : wasm.supports(n, g)),
      compile: emit,
    };
    const err = await compile(graph(), picky, { opt: 'O0' }).catch((e) => e);
    expect(err).toBeInstanceOf(CnncError);
    expect(err.code).toBe('UNSUPPORTED');
    expect(err.message).toMatch(/the picky target cannot lower these 2 nodes/);
    expect(err.message).toContain("Sigmoid 'first_sigmoid' (no sigmoid on this target)");
    expect(err.message).toContain("Sigmoid 'second_sigmoid' (no sigmoid on this target)");
    expect(err.node).toBe('first_sigmoid');
    expect(err.op).toBe('Sigmoid');
    expect(emit).not.toHaveBeenCalled();
  });

  it('the same graph compiles on a target that supports every node (the check refuses nothing else)', async () => {
    const wasm = await getTarget('wasm');
    const emit = vi.fn(wasm.compile);
    const m = await compile(graph(), { ...wasm, compile: emit }, { opt: 'O0' });
    expect(emit).toHaveBeenCalledOnce();
    expect(m.stats.kernels).toBeGreaterThan(0);
  });
});
