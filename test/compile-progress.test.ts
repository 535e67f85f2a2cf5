/**
 * compile()'s onProgress: the code generator's load, each pass, each wasm kernel of both builds and
 * the stages, in order and counted; the library itself prints nothing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compile, zoo, type CompileProgress } from '../index.js';

describe('compile onProgress', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reports the target load, every pass, every kernel of both wasm builds and the stages, printing nothing', async () => {
    const events: CompileProgress[] = [];
    const stderr = vi.spyOn(process.stderr, 'write');
    const stdout = vi.spyOn(process.stdout, 'write');
    const cm = await compile(zoo('lenet5'), 'wasm', { onProgress: (e) => events.push(e) });
    expect(stderr).not.toHaveBeenCalled();
    expect(stdout).not.toHaveBeenCalled();
    expect(events[0]).toMatchObject({ kind: 'stage', name: 'target' });

    const passes = events.filter((e) => e.kind === 'pass');
    expect(passes.map((e) => e.name)).toEqual(cm.passes.map((p) => p.name));
    expect(passes.map((e) => e.done)).toEqual(cm.passes.map((_, i) => i + 1));
    expect(passes.every((e) => e.total === cm.passes.length && e.ms >= 0)).toBe(true);
    expect(passes.at(-1)!.nodes).toBe(cm.graph.nodes.length);

    // kernels: the plan's steps once per build, counted over both builds
    const kernels = events.filter((e) => e.kind === 'kernel');
    const n = cm.stats.kernels;
    expect(kernels).toHaveLength(2 * n);
    expect(kernels.map((e) => e.done)).toEqual(kernels.map((_, i) => i + 1));
    expect(kernels.every((e) => e.total === 2 * n)).toBe(true);
    expect(kernels.slice(0, n).every((e) => e.build === 'simd128')).toBe(true);
    expect(kernels.slice(n).every((e) => e.build === 'relaxed-simd')).toBe(true);
    expect(kernels.slice(n).map((e) => e.name)).toEqual(kernels.slice(0, n).map((e) => e.name));
    expect(new Set(kernels.slice(0, n).map((e) => e.name)).size).toBe(n);
    expect(kernels.every((e) => cm.graph.nodes.some((g) => g.name === e.node))).toBe(true);

    // stages in order: target, passes, lower, module per build, encode, codegen
    const stages = events.filter((e) => e.kind === 'stage').map((e) => e.build ? `${e.name}:${e.build}` : e.name);
    expect(stages).toEqual(['target', 'passes', 'lower', 'module:simd128', 'module:relaxed-simd', 'pack weights', 'encode', 'codegen']);
    const order = (pred: (e: CompileProgress) => boolean) => events.findIndex(pred);
    expect(order((e) => e.kind === 'pass')).toBeGreaterThan(order((e) => e.name === 'target'));
    expect(order((e) => e.kind === 'kernel')).toBeGreaterThan(order((e) => e.name === 'lower'));
  });

  it('reports an import stage for ONNX bytes, one build without relaxed SIMD, and stages for the other targets', async () => {
    const { exportOnnx } = await import('../frontends/onnx/export.js');
    const events: CompileProgress[] = [];
    const cm = await compile(exportOnnx(zoo('lenet5')), 'wasm', { wasm: { relaxedSimd: false }, onProgress: (e) => events.push(e) });
    expect(events.filter((e) => e.kind === 'stage').map((e) => e.name)).toEqual(['target', 'import', 'passes', 'lower', 'module', 'pack weights', 'encode', 'codegen']);
    expect(events.filter((e) => e.kind === 'kernel')).toHaveLength(cm.stats.kernels);
    const ref: CompileProgress[] = [];
    await compile(zoo('lenet5'), 'reference', { onProgress: (e) => ref.push(e) });
    expect(ref.filter((e) => e.kind === 'stage').map((e) => e.name)).toEqual(['target', 'passes', 'codegen']);
  });
});
