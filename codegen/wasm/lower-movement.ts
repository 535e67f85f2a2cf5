/**
 * Lowerings of the ops that move data: views (Reshape, Flatten, Squeeze, Unsqueeze, Identity: no
 * kernel, the output is the input in logical order), Concat (`concat`, or nothing when its parts
 * were written in place), Transpose, Pad and the separable gathers (Resize nearest, Slice, Split,
 * Expand, Tile: `resize_gather`, ...).
 */
import { getOp } from '../../ir/ops/index.js';
import { sizeOf } from '../../ir/types.js';
import { TYPED_DTYPES } from './kernels-typed.js';
import { addSequence, emitCopy, emitFill, emitStrided, emitTableGather } from './kernels.js';
import { needsConstants, stridesOf, tPerm, tStrides, unchecked, type OpLowering } from './storage.js';

const view: OpLowering = {
  // the output is the input's storage, whatever its dtype (a shape input is read at compile time only)
  typed: (n, g) => (TYPED_DTYPES.has(g.type(n.inputs[0]).dtype) ? undefined : `has no ${g.type(n.inputs[0]).dtype} tensors ('${n.inputs[0]}')`),
  lower: (s, n) => s.define(n.outputs[0], s.plain(n, n.inputs[0])),
};

const concat: OpLowering = {
  lower(s, n) {
    const outV = n.outputs[0];
    const whole = s.wholes.get(outV);
    // parts written in place (codegen/concat-plan.ts) are already in their slice: touch them so the
    // buffer lives from the first part on; the rest are copied in
    const copied = n.inputs.map((v) => !s.slices.has(v));
    n.inputs.forEach((v, i) => { if (!copied[i]) s.loc(n, v); });
    if (whole && !copied.includes(true)) {
      s.define(outV, s.touch(whole));
      return;
    }
    const out = s.shape(outV);
    const r = out.length;
    const axis = (Number(n.attrs.axis) + r) % r;
    const isT = whole ? whole.phys === 'T' : r >= 3 && n.inputs.some((v) => s.locs.get(v)?.phys === 'T');
    const parts = n.inputs.map((v, i) => (!copied[i] ? undefined : isT ? s.channelsLast(n, v) : s.plain(n, v)));
    parts.forEach((p, i) => { if (p && isT && p.ps !== s.shape(n.inputs[i])[1]) unchecked(n, 'needs dense concat inputs'); });
    const dims = isT ? tPerm(r).map((p) => out[p]) : [...out];
    const ax = isT ? tPerm(r).indexOf(axis) : axis;
    const y = whole ?? s.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    s.define(outV, y);
    const outer = sizeOf(dims.slice(0, ax)), innerOut = sizeOf(dims.slice(ax));
    const reads = parts.filter((p): p is NonNullable<typeof p> => !!p);
    s.step(n, 'concat', whole ? 'copy, rest in place' : 'copy', 0, (m, a, fn) => {
      let off = 0;
      const names: string[] = [];
      n.inputs.forEach((v, i) => {
        const sh = s.shape(v), pd = isT ? tPerm(r).map((p) => sh[p]) : [...sh];
        const inner = sizeOf(pd.slice(ax));
        const p = parts[i];
        if (p) {
          const name = `${fn}_in${i}`;
          names.push(name);
          emitCopy(m, name, a(p), a(y) + off * 4, outer, inner * 4, inner * 4, innerOut * 4);
        }
        off += inner;
      });
      addSequence(m, fn, names);
    }, reads, [y]);
  },
};

const transpose: OpLowering = {
  lower(s, n) {
    const xv = n.inputs[0];
    const sh = s.shape(xv);
    const perm = (n.attrs.perm as number[]).length ? (n.attrs.perm as number[]) : sh.map((_, i) => sh.length - 1 - i);
    const src = s.loc(n, xv);
    const ls = s.logicalStrides(xv, src);
    const dims = perm.map((p) => sh[p]);
    const y = s.dense(sizeOf(sh), 'plain', 0);
    s.define(n.outputs[0], y);
    s.step(n, 'transpose', '', 0, (m, a, fn) => emitStrided(m, fn, a(src), perm.map((p) => ls[p]), a(y), stridesOf(dims), dims), [src], [y]);
  },
};

const pad: OpLowering = {
  check(n) {
    const mode = String(n.attrs.mode ?? 'constant');
    if (mode !== 'constant') return `has no Pad mode '${mode}'`;
    return (n.attrs.pads as number[]).some((p) => p < 0) ? 'has no negative pads' : undefined;
  },
  lower(s, n) {
    const xv = n.inputs[0];
    const sh = s.shape(xv), out = s.shape(n.outputs[0]);
    const pads = n.attrs.pads as number[];
    const src = s.loc(n, xv);
    const ls = s.logicalStrides(xv, src);
    const isT = src.phys === 'T';
    const y = s.dense(sizeOf(out), isT ? 'T' : 'plain', isT ? out[1] : 0);
    s.define(n.outputs[0], y);
    const yl = isT ? tStrides(out, out[1]) : stridesOf(out);
    const start = pads.slice(0, sh.length).reduce((acc, p, i) => acc + p * yl[i], 0);
    const value = Number(n.attrs.value ?? 0);
    s.step(n, 'pad_constant', '', 0, (m, a, fn) => {
      emitFill(m, `${fn}_fill`, a(y), sizeOf(out), value);
      emitStrided(m, `${fn}_copy`, a(src), ls, a(y) + start * 4, yl, [...sh]);
      addSequence(m, fn, [`${fn}_fill`, `${fn}_copy`]);
    }, [src], [y]);
  },
};

/**
 * Ops whose output coordinates map to input coordinates axis by axis: Resize (nearest), Slice,
 * Split, Expand, Tile. The per-axis maps are read off the op's reference kernel, run on tensors
 * holding each input axis' coordinate — the op's own rules (negative indices, clamping,
 * coordinate_transformation_mode, nearest_mode) by construction — and the kernel gathers
 * through per-axis tables.
 */
const separableGather: OpLowering = {
  check(n, g) {
    if (n.op === 'Resize' && String(n.attrs.mode) !== 'nearest') return `has no Resize mode '${String(n.attrs.mode)}' (nearest only)`;
    return needsConstants(g, n.inputs.slice(1));
  },
  lower(s, n) {
    const xv = n.inputs[0];
    const sh = s.shape(xv), ins = stridesOf(sh);
    const def = getOp(n.op, n.name);
    const others = n.inputs.slice(1).map((v) => (v ? s.g.constValue(v) ?? unchecked(n, `needs '${v}' to be a constant`) : undefined));
    const outTypes = n.outputs.map((o) => (o === '' ? { dtype: 'f32' as const, shape: [] } : s.g.type(o)));
    const probes = sh.map((_, j) => def.reference([{ dtype: 'f32', shape: sh, data: new Float32Array(sizeOf(sh)).map((_, i) => Math.floor(i / ins[j]) % sh[j]) }, ...others], n.attrs, outTypes));
    const x = s.plain(n, xv);
    n.outputs.forEach((ov, k) => {
      if (ov === '') return;
      const out = s.shape(ov), os = stridesOf(out), lead = out.length - sh.length;
      const tables = out.map((_, a) => {
        const table = new Int32Array(out[a]);
        const j = a - lead;
        if (j >= 0) for (let o = 0; o < out[a]; o++) table[o] = (probes[j][k].data as Float32Array)[o * os[a]] * ins[j] * 4;
        return s.weight(new Float32Array(table.buffer));
      });
      const y = s.dense(sizeOf(out), 'plain', 0);
      s.define(ov, y);
      const what = n.outputs.length > 1 ? `gather ${k}` : 'gather';
      s.step(n, `${n.op.toLowerCase()}_gather`, what, 0, (m, ad, fn) => emitTableGather(m, fn, ad(x), ad(y), [...out], tables), [x], [y]);
    });
  },
};

export const MOVEMENT_LOWERINGS: Record<string, OpLowering> = {
  Reshape: view, Flatten: view, Squeeze: view, Unsqueeze: view, Identity: view,
  Concat: concat, Transpose: transpose, Pad: pad,
  Resize: separableGather, Slice: separableGather, Split: separableGather, Expand: separableGather, Tile: separableGather,
};
