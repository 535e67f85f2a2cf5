/**
 * The WGSL target: lowers a planned graph to one compute shader per fused kernel and a plan of
 * dispatches over shared buffers, packed into the artifact the WebGPU runtime loads.
 */
import { encodeArtifact, type Artifact, type IOSpec } from '../../runtime/artifact.js';
import { CnncError } from '../../runtime/errors.js';
import type { PlanStep, WgslPlan } from '../../runtime/webgpu/plan.js';
import type { Graph, Node } from '../../ir/graph.js';
import { allOps } from '../../ir/ops/index.js';
import { ALIAS_OPS, DEFAULT_LIMITS, Emitter, type WgslLimits } from './emit.js';
import { generatorFor } from './generators.js';
import { wrapShader, type Kernel } from './kernel.js';
import { emitCopy } from './kernels/elementwise.js';
import { supportsOp } from './supports.js';
import { carrierMisfit } from './carried.js';

export type { WgslLimits } from './emit.js';
export { DEFAULT_LIMITS } from './emit.js';

export interface WgslOptions {
  /**
   * Limits to generate for (default: WebGPU compatibility-mode defaults, 128 invocations);
   * `adapter.limits` of the target adapter may be passed as is.
   */
  limits?: Partial<WgslLimits>;
}

/** Every op the WGSL target lowers (for the ops × targets table). */
export const WGSL_OPS: ReadonlySet<string> = new Set(allOps().map((op) => op.name).filter((name) => !supportsOp(name)));

/** The kernels and plan for a graph (exported for tests that look at shaders). */
export function lowerWgsl(graph: Graph, options: WgslOptions = {}): { plan: WgslPlan; shaders: { f32: string[]; f16: string[] }; weights: Uint8Array } {
  // read key by key: an adapter's GPUSupportedLimits keeps its values in getters, which a spread skips
  const limits: WgslLimits = { ...DEFAULT_LIMITS };
  const given = (options.limits ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(DEFAULT_LIMITS) as (keyof WgslLimits)[]) if (typeof given[k] === 'number') limits[k] = given[k] as number;
  const missing = graph.nodes.filter((n) => !ALIAS_OPS.has(n.op) && !generatorFor(n));
  if (missing.length) {
    const list = missing.map((n) => `${n.name} (${n.op})`).join(', ');
    throw new CnncError('UNSUPPORTED', `the wgsl target has no kernel for: ${list}`, { node: missing[0].name, op: missing[0].op });
  }
  const e = new Emitter(graph, limits);
  for (const n of graph.nodes) {
    if (ALIAS_OPS.has(n.op)) continue;
    const misfit = carrierMisfit(n, graph);
    if (misfit) throw new CnncError('UNSUPPORTED', misfit, { node: n.name, op: n.op });
    generatorFor(n)!(e, n);
    const unstored = n.outputs.find((v) => e.concats.slices.has(v) && !e.slicesStored.has(v));
    if (unstored) throw new CnncError('KERNEL_ERROR', `the wgsl kernel of ${n.op} did not store '${unstored}' at its concat slice`, { node: n.name, op: n.op, value: unstored });
  }

  // outputs living in an input's or a constant's buffer, or in another output's, get their own copy
  const seen = new Set<number>();
  const outputs = graph.outputs.map((name) => {
    let buffer = e.bufferOf(name);
    if (e.rootIsInputOrConst(name) || seen.has(buffer)) {
      const from = e.operand(name);
      buffer = e.scratch(from.dtype, from.shape.reduce((a, b) => a * b, 1));
      emitCopy(e, { name: `output_${name}`, op: 'Copy', inputs: [name], outputs: [name], attrs: {} }, from, { ...from, buffer });
    }
    seen.add(buffer);
    return { name, buffer };
  });

  const sources = new Map<string, number>();
  const f32: string[] = [], f16: string[] = [];
  const shaderOf = (k: Kernel): number => {
    const src = wrapShader(k, 'f32');
    let shader = sources.get(src);
    if (shader === undefined) {
      shader = f32.length;
      sources.set(src, shader);
      f32.push(src);
      f16.push(wrapShader(k, 'f16'));
    }
    return shader;
  };
  const steps = e.kernels.map((k): PlanStep => {
    const step: PlanStep = { kernel: k.name, node: k.node, op: k.op, shader: shaderOf(k), bindings: k.bindings.map((b) => b.buffer), dispatch: k.dispatch };
    if (k.packed) step.packed = { shader: shaderOf({ ...k, ...k.packed }), bindings: k.packed.bindings.map((b) => b.buffer) };
    return step;
  });
  const hasF16 = e.buffers.some((b) => b.dtype === 'f16');
  const plan: WgslPlan = {
    buffers: e.buffers,
    inputs: graph.inputs.map((name) => ({ name, buffer: e.bufferOf(name) })),
    outputs,
    steps,
    ...(e.rangeChecks ? { rangeChecks: e.rangeChecks } : {}),
    hasF16,
    limits: {
      maxComputeInvocationsPerWorkgroup: Math.max(1, ...e.kernels.map((k) => k.workgroupSize[0] * k.workgroupSize[1] * k.workgroupSize[2])),
      maxComputeWorkgroupStorageSize: Math.max(0, ...e.kernels.map((k) => k.workgroupBytes ?? 0)),
      maxStorageBuffersPerShaderStage: Math.max(1, ...e.kernels.map((k) => Math.max(k.bindings.length, k.packed?.bindings.length ?? 0))),
      maxComputeWorkgroupSizeX: Math.max(1, ...e.kernels.map((k) => k.workgroupSize[0])),
      maxComputeWorkgroupSizeY: Math.max(1, ...e.kernels.map((k) => k.workgroupSize[1])),
    },
  };
  return { plan, shaders: { f32, f16: hasF16 ? f16 : [] }, weights: e.weightsSection() };
}

/** The artifact bytes for a graph compiled to WGSL. */
export function emitWgsl(graph: Graph, options: WgslOptions = {}, meta: Record<string, unknown> = {}): Uint8Array {
  const { plan, shaders, weights } = lowerWgsl(graph, options);
  const io = (names: readonly string[]): IOSpec[] => names.map((name) => ({ name, dtype: graph.type(name).dtype, shape: [...graph.type(name).shape] }));
  const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  const sections: Artifact['sections'] = { weights, 'wgsl.f32': json(shaders.f32) };
  if (plan.hasF16) sections['wgsl.f16'] = json(shaders.f16);
  return encodeArtifact({ header: { version: 1, target: 'wgsl', inputs: io(graph.inputs), outputs: io(graph.outputs), plan, meta: { model: graph.name, ...meta } }, sections });
}
