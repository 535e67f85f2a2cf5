/**
 * Artifact mutation: header JSON fields (replaced, deleted, shifted) and section bytes changed, with
 * the CRC recomputed so that the header schema and the backend's plan checks are what gets tested.
 * Every mutant must load and run to outputs of the declared types, or fail with a typed error.
 * Module bytes are not mutated: a valid-but-different wasm module may loop forever, which no
 * loader can rule out (the module is code, trusted as much as the artifact's signer).
 */
import { ARTIFACT_MAGIC, ARTIFACT_VERSION, crc32 } from '../../runtime/artifact.js';
import { CnncError } from '../../runtime/errors.js';
import { load } from '../../runtime/index.js';
import type { Tensor } from '../../runtime/tensor.js';

/** A small seeded PRNG (mulberry32): the same seed gives the same mutants. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const WEIRD: unknown[] = [null, -1, 0, 1, 1.5, -16, 17, 2 ** 28, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, 'x', '', 'f64', 'i64', [], [1], [-1], [2 ** 28], [1, 2 ** 28], {}, true, { name: 'x' }];

/** Every path to a field of a JSON value ([] is the root). */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function setAt(root: unknown, path: (string | number)[], value: unknown, remove: boolean): unknown {
  if (!path.length) return value;
  const parent = path.slice(0, -1).reduce((o: any, k) => o[k], root) as any;
  const key = path[path.length - 1];
  if (remove) { if (Array.isArray(parent)) parent.splice(Number(key), 1); else delete parent[key]; } else parent[key] = value;
  return root;
}

/**
 * The artifact with its header replaced. Sections keep their offsets when the new header fits in the
 * old one's space; a longer header moves them by a multiple of 16, and well-formed section offsets in
 * the header move with them (so only the mutation itself is what changed).
 */
export function withHeader(original: Uint8Array, header: unknown): Uint8Array {
  const dv = new DataView(original.buffer, original.byteOffset, original.byteLength);
  const oldLen = dv.getUint32(8, true);
  const body = original.subarray(12 + oldLen, original.length - 4);
  let text = new TextEncoder().encode(JSON.stringify(header));
  let room = oldLen;
  if (text.length > oldLen) {
    const delta = Math.ceil((text.length - oldLen + 64) / 16) * 16;
    const moved = structuredClone(header) as { sections?: unknown };
    if (Array.isArray(moved?.sections)) for (const s of moved.sections) if (s && typeof s.offset === 'number') s.offset += delta;
    text = new TextEncoder().encode(JSON.stringify(moved));
    room = oldLen + delta;
  }
  const out = new Uint8Array(12 + room + body.length + 4);
  out.set(new TextEncoder().encode(ARTIFACT_MAGIC));
  const o = new DataView(out.buffer);
  o.setUint32(4, ARTIFACT_VERSION, true);
  o.setUint32(8, text.length, true);
  out.set(text, 12);
  out.fill(0x20, 12 + text.length, 12 + room);
  out.set(body, 12 + room);
  return withCrc(out);
}

export function withCrc(b: Uint8Array): Uint8Array {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
  return b;
}

export type ArtifactMutation = { kind: 'field' | 'delete' | 'nudge' | 'bytes'; detail: string; bytes: Uint8Array };

/** One mutant of `original` drawn with `rand`. */
export function mutateArtifact(original: Uint8Array, rand: () => number): ArtifactMutation {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const dv = new DataView(original.buffer, original.byteOffset, original.byteLength);
  const hlen = dv.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(original.subarray(12, 12 + hlen)));
  const r = rand();
  if (r < 0.2) {
    // section bytes (weights, padding; not the module: see above)
    const b = original.slice();
    const sec = header.sections.find((s: { name: string }) => s.name === 'weights');
    const from = sec ? sec.offset : 12 + hlen;
    const to = sec ? sec.offset + sec.length : b.length - 4;
    const n = 1 + Math.floor(rand() * 8);
    for (let i = 0; i < n && to > from; i++) b[from + Math.floor(rand() * (to - from))] = Math.floor(rand() * 256);
    return { kind: 'bytes', detail: `${n} bytes in [${from}, ${to})`, bytes: withCrc(b) };
  }
  const all = paths(header).filter((p) => p.length > 0);
  const path = pick(all);
  const old = path.reduce((o: any, k) => o[k], header);
  if (r < 0.35) return { kind: 'delete', detail: path.join('.'), bytes: withHeader(original, setAt(header, path, undefined, true)) };
  if (r < 0.6 && typeof old === 'number') {
    const v = old + pick([-64, -16, -4, -1, 1, 2, 4, 16, 64, 65536, old]);
    return { kind: 'nudge', detail: `${path.join('.')}: ${old} → ${v}`, bytes: withHeader(original, setAt(header, path, v, false)) };
  }
  const v = structuredClone(pick(WEIRD));
  return { kind: 'field', detail: `${path.join('.')} = ${JSON.stringify(v)}`, bytes: withHeader(original, setAt(header, path, v, false)) };
}

/** 'ok' when the mutant loads and runs to outputs of its declared types, else the CnncError code; anything else throws. */
export async function artifactOutcome(bytes: Uint8Array, inputs: Record<string, Tensor>): Promise<string> {
  try {
    const s = await load(bytes, { maxMemoryBytes: 2 ** 28 });
    try {
      const out = await s.run(inputs);
      for (const spec of s.outputs) {
        const t = out[spec.name];
        if (!t || t.dtype !== spec.dtype || t.data.length !== spec.shape.reduce((a, d) => a * d, 1)) throw new Error(`output '${spec.name}' does not match its declared type`);
      }
      return 'ok';
    } finally {
      s.dispose();
    }
  } catch (e) {
    if (e instanceof CnncError) return e.code;
    throw e;
  }
}
