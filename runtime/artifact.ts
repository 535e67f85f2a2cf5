/**
 * The artifact: one self-contained file every target shares.
 *
 *   'CNNC' | u32 format version | u32 header length | header JSON (utf-8) | padding to 16
 *   | section bytes (each 16-aligned, offsets in the header) | u32 CRC-32 of everything before it
 *
 * The header names the target, the inputs and outputs, and the target's plan (arena,
 * steps, kernel table); sections hold binary payloads: packed weights, the wasm module,
 * shader or CUDA sources. Loading checks magic, version, bounds and checksum first.
 */
import { CnncError } from './errors.js';
import { BYTES_PER_ELEMENT, DTYPES, type DType } from './tensor.js';

export const ARTIFACT_MAGIC = 'CNNC';
export const ARTIFACT_VERSION = 1;

export interface IOSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

export interface ArtifactHeader {
  version: number;
  target: string;
  inputs: IOSpec[];
  outputs: IOSpec[];
  /** Target-specific plan (arena, steps, kernels); JSON only. */
  plan: unknown;
  /** Free-form facts: model name, compiler version, options. */
  meta?: Record<string, unknown>;
  /** Filled in by encodeArtifact. */
  sections?: { name: string; offset: number; length: number }[];
}

export interface Artifact {
  header: ArtifactHeader;
  sections: Record<string, Uint8Array>;
}

const align16 = (n: number) => (n + 15) & ~15;

export function encodeArtifact(a: Artifact): Uint8Array {
  return encodeSections(a.header, a.sections).bytes;
}

/** Sections as lists of parts, written one after another: a section is the concatenation of its parts. */
export type SectionParts = Record<string, Uint8Array | readonly Uint8Array[]>;

/**
 * encodeArtifact for sections given in parts (the compiler's weights come as one array per layer:
 * joining them first would copy them all once more). Returns the bytes, and each section as a view
 * into them.
 */
export function encodeSections(header: ArtifactHeader, parts: SectionParts): { bytes: Uint8Array; sections: Record<string, Uint8Array> } {
  const list = (name: string): readonly Uint8Array[] => { const p = parts[name]; return p instanceof Uint8Array ? [p] : p; };
  const names = Object.keys(parts);
  const lengths = new Map(names.map((name) => [name, list(name).reduce((n, p) => n + p.length, 0)]));
  // Offsets depend on the header length, which depends on the offsets: iterate to a fixed point.
  let headerBytes = new Uint8Array(0);
  let sections: { name: string; offset: number; length: number }[] = [];
  for (let iter = 0; iter < 4; iter++) {
    let off = align16(12 + headerBytes.length);
    sections = names.map((name) => {
      const s = { name, offset: off, length: lengths.get(name)! };
      off = align16(off + s.length);
      return s;
    });
    const next = new TextEncoder().encode(JSON.stringify({ ...header, version: ARTIFACT_VERSION, sections }));
    if (next.length === headerBytes.length) { headerBytes = next; break; }
    headerBytes = next;
  }
  const end = sections.length ? align16(sections[sections.length - 1].offset + sections[sections.length - 1].length) : align16(12 + headerBytes.length);
  const out = new Uint8Array(end + 4);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(ARTIFACT_MAGIC), 0);
  dv.setUint32(4, ARTIFACT_VERSION, true);
  dv.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  for (const s of sections) {
    let at = s.offset;
    for (const p of list(s.name)) { out.set(p, at); at += p.length; }
  }
  dv.setUint32(end, crc32(out.subarray(0, end)), true);
  return { bytes: out, sections: Object.fromEntries(sections.map((s) => [s.name, out.subarray(s.offset, s.offset + s.length)])) };
}

function bad(msg: string): never {
  throw new CnncError('BAD_ARTIFACT', msg);
}

/** Default cap on the memory a loaded artifact may claim (inputs + outputs, wasm memory): 2 GiB. */
export const DEFAULT_MAX_MEMORY_BYTES = 2 ** 31;

export interface DecodeOptions {
  /** Largest memory the artifact may claim before anything is allocated (TOO_LARGE above it). */
  maxMemoryBytes?: number;
}

export function decodeArtifact(bytes: Uint8Array, opts: DecodeOptions = {}): Artifact {
  if (!(bytes instanceof Uint8Array)) bad('artifact must be a Uint8Array');
  if (bytes.length < 16) bad(`artifact is ${bytes.length} bytes: truncated`);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== ARTIFACT_MAGIC) bad('not a cnnc artifact (bad magic)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(4, true);
  if (version !== ARTIFACT_VERSION) bad(`artifact format version ${version}, this runtime reads version ${ARTIFACT_VERSION}`);
  const end = bytes.length - 4;
  const want = dv.getUint32(end, true);
  const got = crc32(bytes.subarray(0, end));
  if (want !== got) bad(`checksum mismatch (stored ${want.toString(16)}, computed ${got.toString(16)}): the file is corrupted or truncated`);
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > end) bad('header length runs past the end of the file');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + hlen)));
  } catch {
    bad('header is not valid JSON');
  }
  // The CRC only says the bytes are what was written, not that the writer was cnnc: check every field.
  const h = checkHeader(header, 12 + hlen, end, opts.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES);
  const sections: Record<string, Uint8Array> = {};
  for (const s of h.sections ?? []) sections[s.name] = bytes.subarray(s.offset, s.offset + s.length);
  return { header: h, sections };
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** The header against its schema: types, ranges, alignment, non-overlapping sections, the memory cap. */
function checkHeader(h: unknown, dataStart: number, end: number, maxMemoryBytes: number): ArtifactHeader {
  if (!isObject(h)) bad('header is not a JSON object');
  if (h.version !== ARTIFACT_VERSION) bad(`header version is ${JSON.stringify(h.version)}, not ${ARTIFACT_VERSION}`);
  if (typeof h.target !== 'string' || !h.target) bad('header target is not a non-empty string');
  if (!isObject(h.plan)) bad('header plan is not an object');
  if (h.meta !== undefined && !isObject(h.meta)) bad('header meta is not an object');
  let ioBytes = 0;
  for (const kind of ['inputs', 'outputs'] as const) {
    const list = h[kind];
    if (!Array.isArray(list)) bad(`header ${kind} is not a list`);
    const names = new Set<string>();
    for (const [i, io] of list.entries()) {
      const where = `header ${kind}[${i}]`;
      if (!isObject(io) || typeof io.name !== 'string' || !io.name) bad(`${where} has no name`);
      if (names.has(io.name)) bad(`${where}: name '${io.name}' is listed twice`);
      names.add(io.name);
      if (typeof io.dtype !== 'string' || !(DTYPES as readonly string[]).includes(io.dtype)) bad(`${where} '${io.name}': dtype ${JSON.stringify(io.dtype)} is not a dtype`);
      if (!Array.isArray(io.shape) || io.shape.length > 16 || !io.shape.every(isCount)) bad(`${where} '${io.name}': shape ${JSON.stringify(io.shape)} is not a list of non-negative integers`);
      const bytes = (io.shape as number[]).reduce((a, d) => a * d, BYTES_PER_ELEMENT[io.dtype as DType]);
      ioBytes += bytes;
      if (!Number.isSafeInteger(bytes) || ioBytes > maxMemoryBytes) {
        throw new CnncError('TOO_LARGE', `${where} '${io.name}' ${io.dtype}[${io.shape}] takes the inputs and outputs to ${ioBytes} bytes, over the memory cap of ${maxMemoryBytes} bytes (load option maxMemoryBytes)`, { value: io.name });
      }
    }
  }
  if (h.sections !== undefined) {
    if (!Array.isArray(h.sections)) bad('header sections is not a list');
    const names = new Set<string>();
    let next = dataStart;
    for (const [i, s] of h.sections.entries()) {
      if (!isObject(s) || typeof s.name !== 'string' || !s.name) bad(`section ${i} has no name`);
      if (names.has(s.name)) bad(`section '${s.name}' is listed twice`);
      names.add(s.name);
      if (!isCount(s.offset) || !isCount(s.length)) bad(`section '${s.name}': offset and length must be non-negative integers`);
      if (s.offset % 16 !== 0) bad(`section '${s.name}' at offset ${s.offset} is not 16-byte aligned`);
      if (s.offset < next) bad(`section '${s.name}' at offset ${s.offset} overlaps the header or the previous section (sections are in file order)`);
      if (s.offset + s.length > end) bad(`section '${s.name}' lies outside the file`);
      next = s.offset + s.length;
    }
  }
  return h as unknown as ArtifactHeader;
}

/**
 * CRC-32 (IEEE, as zlib). Node's native `zlib.crc32` (Node >= 20.15) where present: it checks a
 * 500 MB artifact in well under a second. Elsewhere (browsers, older Node) a slice-by-8 table:
 * eight bytes per step, about 8x the byte-at-a-time loop. `process.getBuiltinModule` keeps this
 * file free of a static 'node:zlib' import, so browser bundles need no shim.
 */
export function crc32(b: Uint8Array): number {
  const native = nativeCrc32();
  return native ? native(b) >>> 0 : crc32Table(b);
}

type Crc32Fn = (data: Uint8Array, value?: number) => number;
let NATIVE: Crc32Fn | null | undefined;

function nativeCrc32(): Crc32Fn | null {
  if (NATIVE !== undefined) return NATIVE;
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = proc?.getBuiltinModule?.('zlib') as { crc32?: Crc32Fn } | undefined;
  NATIVE = typeof zlib?.crc32 === 'function' ? zlib.crc32 : null;
  return NATIVE;
}

let TABLES: Uint32Array[] | undefined;

/** 8 tables of 256: T[k][n] is the CRC of byte n followed by k zero bytes. */
function crcTables(): Uint32Array[] {
  if (TABLES) return TABLES;
  const t = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0][n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k][n] = (t[k - 1][n] >>> 8) ^ t[0][t[k - 1][n] & 0xff];
  }
  TABLES = t;
  return t;
}

/** The table-driven CRC-32 (slice-by-8); exported so that tests compare it with zlib's. */
export function crc32Table(b: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crcTables();
  let c = 0xffffffff;
  let i = 0;
  const n8 = b.length - (b.length % 8);
  for (; i < n8; i += 8) {
    const lo = (c ^ (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24))) >>> 0;
    c = t7[lo & 0xff] ^ t6[(lo >>> 8) & 0xff] ^ t5[(lo >>> 16) & 0xff] ^ t4[lo >>> 24]
      ^ t3[b[i + 4]] ^ t2[b[i + 5]] ^ t1[b[i + 6]] ^ t0[b[i + 7]];
  }
  for (; i < b.length; i++) c = t0[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
