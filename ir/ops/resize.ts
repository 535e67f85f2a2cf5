/**
 * Resize (ONNX semantics, opset 11–19): nearest, linear (bilinear/trilinear) and cubic
 * interpolation, applied separably axis by axis, each output coordinate mapped back to the
 * input by coordinate_transformation_mode.
 *
 * `scales` / `sizes` (and `roi`, for tf_crop_and_resize: all starts, then all ends) list one entry
 * per axis in the logical (NCHW) axis order whatever the `layout`: a layout pass that turns the
 * tensor NHWC changes only `layout`, not them. keep_aspect_ratio_policy other than 'stretch' is
 * resolved by the importer into `sizes`. antialias (opset 18) widens linear/cubic kernels when downsampling.
 */
import { toF64, type Tensor } from '../../runtime/tensor.js';
import type { Attrs, NodeInfo, OpDef } from '../op.js';
import { attrFloat, attrInt, attrInts, attrString, fail, input } from '../op.js';
import { sizeOf } from '../types.js';
import { axisTables, checkSize, intsAttr, offsetMap, refInfo, stridesOf, take } from './broadcast.js';
import { store } from './elementwise.js';

const MODES = ['nearest', 'linear', 'cubic'];
const COORD_MODES = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nearest', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

/** For a tensor of rank r in `layout`, the logical (NCHW) axis of each physical axis. */
function logicalAxes(layout: string, rank: number): number[] {
  if (layout !== 'NHWC' || rank < 3) return Array.from({ length: rank }, (_, i) => i);
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}

/**
 * One axis: `resized` is the unrounded output length in·scale, which ONNX's coordinate
 * transforms use; roi0/roi1 the crop box (fractions of the input) of tf_crop_and_resize.
 */
interface AxisPlan { inLen: number; outLen: number; scale: number; resized: number; roi0: number; roi1: number }

/** Per physical axis: input and output length and the scale the coordinate transform uses. */
function resizePlan(node: NodeInfo): AxisPlan[] {
  const x = input(node, 0);
  const s = x.type.shape;
  const a = node.attrs;
  const scales = attrInts(a, 'scales', node);
  const sizes = intsAttr(node, 'sizes');
  const mode = attrString(a, 'mode', node);
  const coord = attrString(a, 'coordinate_transformation_mode', node);
  const layout = attrString(a, 'layout', node);
  if (!MODES.includes(mode)) fail(node, 'UNSUPPORTED', `mode '${mode}' (supported: ${MODES.join(', ')})`);
  if (!COORD_MODES.includes(coord)) fail(node, 'UNSUPPORTED', `coordinate_transformation_mode '${coord}' (supported: ${COORD_MODES.join(', ')})`);
  if (!NEAREST_MODES.includes(attrString(a, 'nearest_mode', node))) fail(node, 'UNSUPPORTED', `nearest_mode '${a.nearest_mode}'`);
  if (attrString(a, 'keep_aspect_ratio_policy', node) !== 'stretch') fail(node, 'UNSUPPORTED', `keep_aspect_ratio_policy '${a.keep_aspect_ratio_policy}' (only 'stretch')`);
  if (layout !== 'NCHW' && layout !== 'NHWC') fail(node, 'BAD_ATTRIBUTE', `layout '${layout}'`);
  if ((scales.length > 0) === (sizes.length > 0)) fail(node, 'BAD_ATTRIBUTE', "exactly one of 'scales' and 'sizes' must be given");
  const given = scales.length ? scales : sizes;
  if (given.length !== s.length) fail(node, 'SHAPE_MISMATCH', `${scales.length ? 'scales' : 'sizes'} [${given}] must have one entry per axis of [${s}]`, x.name);
  if (scales.some((v) => !(v > 0))) fail(node, 'BAD_ATTRIBUTE', `scales [${scales}] must be positive`);
  if (sizes.some((v) => !Number.isInteger(v) || v < 1)) fail(node, 'BAD_ATTRIBUTE', `sizes [${sizes}] must be positive integers`);
  const roi = attrInts(a, 'roi', node);
  const crop = coord === 'tf_crop_and_resize';
  if (crop && roi.length !== 2 * s.length) fail(node, 'BAD_ATTRIBUTE', `tf_crop_and_resize needs roi with ${2 * s.length} values (starts, then ends), got [${roi}]`);
  const logical = logicalAxes(layout, s.length);
  return s.map((inLen, p) => {
    const l = logical[p];
    const v = given[l];
    const [roi0, roi1] = crop ? [roi[l], roi[l + s.length]] : [0, 1];
    if (scales.length) return { inLen, outLen: Math.floor(inLen * (roi1 - roi0) * v), scale: v, resized: inLen * v, roi0, roi1 };
    return { inLen, outLen: v, scale: v / inLen, resized: v, roi0, roi1 };
  });
}

/** The input coordinate (fractional) that output index i of an axis maps back to. */
function inputCoord(coord: string, i: number, p: AxisPlan): number {
  // `resized` differs from outLen for scales like 0.6 (ONNX's align_corners uses it).
  const { inLen, outLen, scale, resized } = p;
  switch (coord) {
    case 'asymmetric': return i / scale;
    case 'align_corners': return resized === 1 ? 0 : (i * (inLen - 1)) / (resized - 1);
    case 'pytorch_half_pixel': return resized > 1 ? (i + 0.5) / scale - 0.5 : 0;
    case 'tf_half_pixel_for_nearest': return (i + 0.5) / scale;
    case 'tf_crop_and_resize': {
      const { roi0, roi1 } = p;
      const span = (roi1 - roi0) * (inLen - 1);
      return roi0 * (inLen - 1) + (resized === 1 ? span / 2 : (i * span) / (resized - 1));
    }
    case 'half_pixel_symmetric': {
      const adjust = outLen / (scale * inLen);
      return (inLen / 2) * (1 - adjust) + (i + 0.5) / scale - 0.5;
    }
    default: return (i + 0.5) / scale - 0.5; // half_pixel
  }
}

function nearestIndex(mode: string, x: number, len: number): number {
  const f = Math.floor(x);
  let i: number;
  switch (mode) {
    case 'floor': i = f; break;
    case 'ceil': i = Math.ceil(x); break;
    case 'round_prefer_ceil': i = x - f === 0.5 ? f + 1 : Math.round(x); break;
    default: i = x - f === 0.5 ? f : Math.round(x); // round_prefer_floor
  }
  return Math.min(Math.max(i, 0), len - 1);
}

/** The interpolation kernels: weight of a tap at distance d from the sample point. */
function kernel(mode: string, a: number): (d: number) => number {
  if (mode === 'linear') return (d) => Math.max(0, 1 - Math.abs(d));
  return (d) => {
    const ad = Math.abs(d);
    if (ad <= 1) return ((a + 2) * ad - (a + 3)) * ad * ad + 1;
    if (ad < 2) return ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a;
    return 0;
  };
}

/**
 * Input taps (indices clamped to the edge) and weights for each output index of one axis;
 * `outside` marks tf_crop_and_resize coordinates beyond the input (extrapolation_value there).
 */
export interface Taps { idx: number[]; w: number[]; outside?: boolean }

function axisTaps(attrs: Attrs, p: AxisPlan): Taps[] {
  const mode = attrString(attrs, 'mode');
  const coord = attrString(attrs, 'coordinate_transformation_mode');
  const clamp = (i: number) => Math.min(Math.max(i, 0), p.inLen - 1);
  const kern = kernel(mode, attrFloat(attrs, 'cubic_coeff_a'));
  const radius = mode === 'linear' ? 1 : 2;
  const antialias = attrInt(attrs, 'antialias') !== 0;
  return Array.from({ length: p.outLen }, (_, i) => {
    const x = inputCoord(coord, i, p);
    if (coord === 'tf_crop_and_resize' && (x < 0 || x > p.inLen - 1)) return { idx: [0], w: [0], outside: true };
    if (mode === 'nearest') return { idx: [nearestIndex(attrString(attrs, 'nearest_mode'), x, p.inLen)], w: [1] };
    // Taps floor(x)+k around the point; with antialias, a downsampling kernel is stretched by
    // 1/scale (more taps), as the ONNX reference does. Weights are normalized to sum to 1.
    const f = Math.floor(x);
    const s = antialias ? Math.min(p.scale, 1) : 1;
    const k0 = Math.floor(-radius / s) + 1;
    const taps = Array.from({ length: 2 - 2 * k0 }, (_, j) => f + k0 + j);
    let w = taps.map((i) => kern(s * (i - x)));
    if (attrInt(attrs, 'exclude_outside')) w = w.map((v, k) => (taps[k] < 0 || taps[k] >= p.inLen ? 0 : v));
    const sum = w.reduce((acc, v) => acc + v, 0);
    w = w.map((v) => v / sum);
    return { idx: taps.map(clamp), w };
  });
}


/** Interpolates float64 values of `shape` along `axis` with the given taps. */
function resampleAxis(v: Float64Array, shape: number[], axis: number, taps: Taps[]): Float64Array {
  const inner = sizeOf(shape.slice(axis + 1));
  const outer = sizeOf(shape.slice(0, axis));
  const inLen = shape[axis];
  const out = new Float64Array(outer * taps.length * inner);
  for (let o = 0; o < outer; o++) {
    taps.forEach(({ idx, w }, i) => {
      const dst = (o * taps.length + i) * inner;
      for (let k = 0; k < idx.length; k++) {
        const src = (o * inLen + idx[k]) * inner;
        for (let q = 0; q < inner; q++) out[dst + q] += w[k] * v[src + q];
      }
    });
  }
  return out;
}

/**
 * Per axis of the node's input: its length and, for each output index, the taps the reference
 * interpolates with (clamped input indices, normalized weights, `outside` for tf_crop_and_resize):
 * code generators emit the same sums.
 */
export function resizeTaps(node: NodeInfo): { inLen: number; taps: Taps[] }[] {
  return resizePlan(node).map((p) => ({ inLen: p.inLen, taps: axisTaps(node.attrs, p) }));
}

const Resize: OpDef = {
  name: 'Resize',
  traits: { category: 'resize', fp16: 'compute', layoutInputs: [0] },
  doc: 'resamples by scales or to sizes (modes nearest, linear, cubic; ONNX coordinate transforms)',
  inputs: [1, 1],
  attrs: {
    scales: [], sizes: [], mode: 'nearest', coordinate_transformation_mode: 'half_pixel',
    nearest_mode: 'round_prefer_floor', cubic_coeff_a: -0.75, exclude_outside: 0, extrapolation_value: 0,
    keep_aspect_ratio_policy: 'stretch', antialias: 0, roi: [], layout: 'NCHW',
  },
  infer(node) {
    const x = input(node, 0);
    if (x.type.dtype === 'bool') fail(node, 'DTYPE_MISMATCH', 'does not take bool', x.name);
    return [{ dtype: x.type.dtype, shape: checkSize(node, resizePlan(node).map((p) => p.outLen)) }];
  },
  reference([x], attrs, [out]) {
    const t = x as Tensor;
    const plan = resizePlan(refInfo('Resize', attrs, [t]));
    const taps = plan.map((p) => axisTaps(attrs, p));
    const extrapolation = attrFloat(attrs, 'extrapolation_value');
    // Elements with any coordinate outside the crop box: -1 in this map.
    const inside = offsetMap(out.shape, taps.map((ts) => ts.map((q) => (q.outside ? -1 : 0))));
    if (attrString(attrs, 'mode') === 'nearest') {
      // A pure gather: copy raw elements (exact for every dtype).
      const idx = offsetMap(out.shape, axisTables(out.shape, stridesOf(t.shape), (a, i) => taps[a][i].idx[0]));
      for (let k = 0; k < idx.length; k++) if (inside[k] < 0) idx[k] = -1;
      return [take(t, out.shape, idx, extrapolation)];
    }
    let v = toF64(t);
    const shape = [...t.shape];
    plan.forEach((p, a) => {
      v = resampleAxis(v, shape, a, taps[a]);
      shape[a] = p.outLen;
    });
    for (let k = 0; k < v.length; k++) if (inside[k] < 0) v[k] = extrapolation;
    return [store(out.dtype, out.shape, v)];
  },
  cost(node, [out]) {
    const mode = attrString(node.attrs, 'mode', node);
    const taps = mode === 'nearest' ? 0 : mode === 'linear' ? 2 : 4;
    const resized = resizePlan(node).filter((p) => p.inLen !== p.outLen).length;
    return { flops: 2 * taps * resized * sizeOf(out.shape) };
  },
};

export const RESIZE_OPS: OpDef[] = [Resize];
