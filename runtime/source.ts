/**
 * Where an artifact's bytes come from: what `load()` accepts, read into one Uint8Array.
 * Works in browsers and Node; Node's fs is reached through `process.getBuiltinModule`, so a
 * browser bundle carries no 'node:fs' import.
 */
import { CnncError } from './errors.js';

/** Anything with a byte stream: a fetch `Response`, or a web / Node stream of chunks. */
export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly url?: string;
  readonly headers?: { get(name: string): string | null };
  readonly body?: ReadableStreamLike | null;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** A WHATWG ReadableStream of byte chunks (only getReader is used). */
export interface ReadableStreamLike {
  getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; releaseLock(): void };
}

/** A WHATWG URL (typed by its href, so that the types need neither the DOM lib nor @types/node). */
export interface URLLike { readonly href: string; readonly protocol: string }

/**
 * An artifact's bytes, or where to find them: a Uint8Array (Node's Buffer too), an ArrayBuffer,
 * a URL or string (a file path in Node, else fetched), a fetch Response, a ReadableStream, an
 * async iterable of chunks (Node's fs.createReadStream), or a Blob.
 */
export type ArtifactSource =
  | Uint8Array | ArrayBuffer | ArrayBufferView | URLLike | string | ResponseLike | ReadableStreamLike
  | AsyncIterable<Uint8Array> | { arrayBuffer(): Promise<ArrayBuffer> };

/** Called as bytes arrive; `total` when the source says its length. */
export type ReadProgress = (bytes: number, total: number | undefined) => void;

const isNode = () => Boolean((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node);

function ioError(what: string, e?: unknown): never {
  throw new CnncError('IO_ERROR', `cannot read artifact ${what}${e ? `: ${(e as Error).message ?? String(e)}` : ''}`);
}

/** Reads any ArtifactSource to bytes; IO_ERROR names the path or URL that failed. */
export async function readSource(src: ArtifactSource, progress?: ReadProgress): Promise<Uint8Array> {
  const bytes = inMemory(src);
  if (bytes) {
    progress?.(bytes.length, bytes.length);
    return bytes;
  }
  if (typeof src === 'string' || isUrl(src)) return readLocation(src, progress);
  if (isResponse(src)) return readResponse(src, progress);
  if (isStream(src)) return readChunks(chunksOf(src), undefined, progress);
  if (isAsyncIterable(src)) return readChunks(src, undefined, progress);
  if (src && typeof (src as { arrayBuffer?: unknown }).arrayBuffer === 'function') {
    return new Uint8Array(await (src as { arrayBuffer(): Promise<ArrayBuffer> }).arrayBuffer());
  }
  throw new CnncError('BAD_ARTIFACT', `cannot load an artifact from ${describe(src)}: pass a Uint8Array, ArrayBuffer, URL, path, Response or stream`);
}

function inMemory(src: unknown): Uint8Array | undefined {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && src instanceof SharedArrayBuffer)) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  return undefined;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  return typeof v === 'object' ? `a ${v.constructor?.name ?? 'object'}` : `a ${typeof v}`;
}

/** A path (Node) or URL: file: URLs and plain paths from disk in Node, everything else through fetch. */
async function readLocation(loc: string | URLLike, progress?: ReadProgress): Promise<Uint8Array> {
  const href = typeof loc === 'string' ? loc : loc.href;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(href)?.[1]?.toLowerCase();
  const isFile = scheme === 'file' || (scheme === undefined && isNode()) || (scheme?.length === 1 && isNode()); // C:\ paths
  if (isFile && isNode()) {
    const fs = (globalThis as unknown as { process: { getBuiltinModule(id: string): unknown } }).process.getBuiltinModule('fs') as {
      promises: { readFile(p: string | URL): Promise<Uint8Array> };
    };
    try {
      const b = await fs.promises.readFile(scheme === 'file' ? new URL(href) : href);
      progress?.(b.length, b.length);
      return b;
    } catch (e) {
      ioError(`'${href}'`, e);
    }
  }
  if (typeof fetch !== 'function') ioError(`'${href}': no fetch() here`);
  let res: ResponseLike;
  try {
    res = await fetch(href) as unknown as ResponseLike;
  } catch (e) {
    ioError(`'${href}'`, e);
  }
  return readResponse(res, progress, href);
}

function isUrl(v: unknown): v is URLLike {
  return typeof URL !== 'undefined' && v instanceof URL;
}

function isResponse(v: unknown): v is ResponseLike {
  const r = v as ResponseLike;
  return !!r && typeof r === 'object' && typeof r.ok === 'boolean' && typeof r.status === 'number' && typeof r.arrayBuffer === 'function';
}

function isStream(v: unknown): v is ReadableStreamLike {
  return !!v && typeof (v as ReadableStreamLike).getReader === 'function';
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Uint8Array> {
  return !!v && typeof (v as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function';
}

async function readResponse(res: ResponseLike, progress?: ReadProgress, what = res.url || 'response'): Promise<Uint8Array> {
  if (!res.ok) ioError(`'${what}': HTTP ${res.status}`);
  const len = Number(res.headers?.get('content-length') ?? NaN);
  const total = Number.isFinite(len) && len >= 0 ? len : undefined;
  if (res.body && isStream(res.body)) return readChunks(chunksOf(res.body), total, progress);
  const b = new Uint8Array(await res.arrayBuffer());
  progress?.(b.length, b.length);
  return b;
}

async function* chunksOf(stream: ReadableStreamLike): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value) yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Concatenates chunks; into one preallocated buffer when the total is known. */
async function readChunks(chunks: AsyncIterable<Uint8Array>, total: number | undefined, progress?: ReadProgress): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for await (const c of chunks) {
      const bytes = c instanceof Uint8Array ? c : typeof c === 'string' ? ioError('stream: it yields strings, open it without an encoding') : new Uint8Array(c as ArrayBuffer);
      parts.push(bytes);
      n += bytes.length;
      progress?.(n, total);
    }
  } catch (e) {
    if (e instanceof CnncError) throw e;
    ioError('stream', e);
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
