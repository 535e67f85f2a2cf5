/**
 * Mutations of a real ONNX model for the hostile-input property test and `npm run fuzz`:
 * bit flips, truncation, spliced garbage, and edits of decoded fields (op types, names,
 * attributes, dims, dtypes, opsets, node order) re-encoded. Every outcome of importing a
 * mutant must be a Graph that verifies or a CnncError: never another exception, a hang or a crash.
 */
import fc from 'fast-check';
import { CnncError } from '../../runtime/errors.js';
import { importOnnx } from '../../frontends/onnx/import.js';
import { onnx } from '../../frontends/onnx/proto.js';
import { verify } from '../../ir/verify.js';

export type Mutation =
  | { kind: 'flip'; bits: [number, number][] }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; at: number; bytes: number[] }
  | { kind: 'edit'; edits: Edit[] };

export type Edit = { field: number; index: number; value: number; text: string };

const OPS = ['Conv', 'Relu', 'Gemm', 'Add', 'Reshape', 'Concat', 'Pad', 'Resize', 'Slice', 'Split', 'NoSuchOp', 'Constant', 'Shape', 'Identity', ''];
const EDIT_FIELDS = 14;

export function mutationArb(size: number): fc.Arbitrary<Mutation> {
  const pos = fc.integer({ min: 0, max: Math.max(0, size - 1) });
  const edit = fc.record({
    field: fc.integer({ min: 0, max: EDIT_FIELDS - 1 }),
    index: fc.nat(200),
    value: fc.oneof(fc.integer({ min: -3, max: 40 }), fc.integer(), fc.constantFrom(0, -1, 2 ** 31 - 1, 2 ** 40, Number.MAX_SAFE_INTEGER)),
    text: fc.oneof(fc.constantFrom(...OPS), fc.string({ maxLength: 6 })),
  });
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), bits: fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: pos }),
    fc.record({ kind: fc.constant('splice' as const), at: pos, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 32 }) }),
    fc.record({ kind: fc.constant('edit' as const), edits: fc.array(edit, { minLength: 1, maxLength: 4 }) }),
  );
}

/** The mutated bytes. */
export function mutate(original: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const b = Uint8Array.from(original);
      for (const [p, bit] of m.bits) b[p] ^= 1 << bit;
      return b;
    }
    case 'truncate': return original.slice(0, m.at);
    case 'splice': {
      const b = new Uint8Array(original.length + m.bytes.length);
      b.set(original.subarray(0, m.at));
      b.set(m.bytes, m.at);
      b.set(original.subarray(m.at), m.at + m.bytes.length);
      return b;
    }
    case 'edit': {
      const model = onnx.ModelProto.decode(original);
      for (const e of m.edits) applyEdit(model, e);
      return onnx.ModelProto.encode(model).finish();
    }
  }
}

function pick<T>(list: T[] | null | undefined, i: number): T | undefined {
  return list && list.length ? list[i % list.length] : undefined;
}

/** One structural edit of a decoded model. */
function applyEdit(model: InstanceType<typeof onnx.ModelProto>, e: Edit): void {
  const g = model.graph!;
  const node = pick(g.node, e.index);
  const init = pick(g.initializer, e.index);
  switch (e.field) {
    case 0: if (node) node.opType = e.text; break;
    case 1: if (node?.input?.length) node.input[(e.value >>> 0) % node.input.length] = e.text; break;
    case 2: if (node?.output?.length) node.output[0] = pick(g.node, e.value >>> 0)?.output?.[0] ?? e.text; break; // duplicates, cycles
    case 3: { const a = pick(node?.attribute, e.value >>> 0); if (a) { a.i = e.value; a.ints = a.ints?.length ? a.ints.map(() => e.value) : a.ints; a.f = e.value; } break; }
    case 4: if (init?.dims?.length) init.dims[0] = e.value; break;
    case 5: if (init) init.dataType = e.value; break;
    case 6: if (g.initializer?.length) g.initializer.splice(e.index % g.initializer.length, 1); break;
    case 7: if (g.node?.length) g.node.splice(e.index % g.node.length, 1); break;
    case 8: if (node && g.node) g.node.push(onnx.NodeProto.create({ ...node, name: `${node.name}_dup` })); break;
    case 9: { const d = g.input?.[0]?.type?.tensorType?.shape?.dim; const dim = pick(d, e.index); if (dim) { dim.dimValue = e.value; if (e.value < 0) dim.dimParam = e.text; } break; }
    case 10: { const t = g.input?.[0]?.type?.tensorType; if (t) t.elemType = e.value; break; }
    case 11: { const o = model.opsetImport?.[0]; if (o) o.version = e.value; break; }
    case 12: if (init?.rawData?.length) init.rawData = init.rawData.subarray(0, Math.abs(e.value) % init.rawData.length); break;
    case 13: if (g.output?.[0]) g.output[0].name = pick(g.node, e.value >>> 0)?.output?.[0] ?? e.text; break;
  }
}

/** Imports the bytes: 'ok' (a verified Graph) or the CnncError code. Anything else is thrown. */
export function outcome(bytes: Uint8Array): string {
  try {
    const g = importOnnx(bytes, { maxTensorBytes: 64 * 2 ** 20 });
    verify(g);
    return 'ok';
  } catch (e) {
    if (e instanceof CnncError) return e.code;
    throw e;
  }
}
