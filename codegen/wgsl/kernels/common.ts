/** Pieces several kernel generators share: layout index expressions and the fused epilogue. */
import { CnncError } from '../../../runtime/errors.js';
import type { Node } from '../../../ir/graph.js';
import type { Layout, WindowGeometry } from '../../../ir/ops/geometry.js';
import { epilogueScalar, type CRenderer } from '../../c-like.js';
import { wgslRenderer } from '../scalar.js';
import type { Emitter, Operand } from '../emit.js';
import { u, type Binding } from '../kernel.js';

/** 4-D view of a 1-D or 2-D spatial tensor: N, C, H, W (H = 1 for 1-D). */
export interface Dims4 { N: number; C: number; H: number; W: number }

export function dims4(N: number, C: number, spatial: readonly number[], node: Node): Dims4 {
  if (spatial.length === 1) return { N, C, H: 1, W: spatial[0] };
  if (spatial.length === 2) return { N, C, H: spatial[0], W: spatial[1] };
  throw new CnncError('UNSUPPORTED', `the wgsl target handles 1-D and 2-D spatial ops, not ${spatial.length}-D`, { node: node.name, op: node.op });
}

/** WGSL u32 expression of the flat index of (n, c, h, w) in a tensor of dims `d` and `layout`. */
export function index4(layout: Layout, d: Dims4, n: string, c: string, h: string, w: string): string {
  return layout === 'NHWC'
    ? `(((${n}) * ${u(d.H)} + (${h})) * ${u(d.W)} + (${w})) * ${u(d.C)} + (${c})`
    : `(((${n}) * ${u(d.C)} + (${c})) * ${u(d.H)} + (${h})) * ${u(d.W)} + (${w})`;
}

export function geometryDims(g: WindowGeometry, node: Node): { x: Dims4; y: Dims4 } {
  return { x: dims4(g.N, g.C, g.inSize, node), y: dims4(g.N, g.M, g.outSize, node) };
}

/** 2-D window parameters (1-D ops get a unit H axis). */
export function window2(g: WindowGeometry) {
  const two = (v: readonly number[], fill: number) => (v.length === 1 ? [fill, v[0]] : [v[0], v[1]]);
  const [KH, KW] = two(g.kernel, 1), [SH, SW] = two(g.strides, 1), [DH, DW] = two(g.dilations, 1);
  const [PH, PW] = two(g.padBegin, 0), [PEH, PEW] = two(g.padEnd, 0);
  return { KH, KW, SH, SW, DH, DW, PH, PW, PEH, PEW };
}

export interface Epilogue {
  bindings: Binding[];
  /** Helper functions the activation calls (and those rendered before with the same renderer). */
  decls: string;
  /** WGSL statements storing f32 `v` for channel `m` at flat output index `idx`. */
  store(idx: string, m: string, v: string): string;
}

/**
 * The fused epilogue of Conv/ConvTranspose/FusedDwPw: v + bias[m] + R[idx], then the activation
 * named by the attributes activation, act_alpha, act_beta (with Conv's residual_after_act, R is
 * added after the activation), stored as T_Y. `r` renders it (pass the
 * renderer of the kernel's other expressions so that the helpers are declared once).
 */
export function epilogue(e: Emitter, node: Node, y: Operand, bias: string | undefined, residual: string | undefined, r: CRenderer = wgslRenderer()): Epilogue {
  const bindings: Binding[] = [];
  if (bias) bindings.push(e.read('B', e.operand(bias)));
  if (residual) {
    const r = e.operand(residual);
    if (r.shape.join() !== y.shape.join()) throw new CnncError('SHAPE_MISMATCH', `residual [${r.shape}] must have the output's shape [${y.shape}]`, { node: node.name, op: node.op, value: residual });
    bindings.push(e.read('R', r));
  }
  bindings.push(e.write('Y', y));
  const act = r.render(epilogueScalar(node.attrs, { node: node.name, op: node.op }), ['v']);
  // Conv's residual_after_act: act(v) + R instead of act(v + R)
  const late = !!residual && Number(node.attrs.residual_after_act ?? 0) === 1;
  return {
    bindings,
    decls: r.helpers(),
    store: (idx, m, v) => [
      `var v = ${v};`,
      bias ? `v += f32(B[${m}]);` : '',
      `let yi = ${idx};`,
      residual && !late ? 'v += f32(R[yi]);' : '',
      `Y[${e.outIndex(y, 'yi')}] = T_Y(${late ? `(${act}) + f32(R[yi])` : act});`,
    ].filter(Boolean).join(' '),
  };
}

/** The value name of input i, or undefined when absent. */
export function opt(node: Node, i: number): string | undefined {
  const v = node.inputs[i];
  return v ? v : undefined;
}
