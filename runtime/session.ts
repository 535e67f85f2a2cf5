/**
 * What every backend's session shares: run() input validation with errors that name the difference,
 * runs queued one after another (a GPU session has one set of buffers), and dispose() /
 * `using` support that frees the backend once queued runs are done. Backends only run checked inputs.
 */
import type { IOSpec } from './artifact.js';
import { CnncError } from './errors.js';
import { arrayTypeOf, DTYPES, sizeOf, type DType, type Tensor } from './tensor.js';

export interface Session {
  readonly target: string;
  readonly inputs: IOSpec[];
  readonly outputs: IOSpec[];
  /** Runs the model; calls made while one runs wait their turn. BAD_INPUT names what is wrong. */
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  /** Frees the backend's memory (wasm memory, GPU buffers) after queued runs; later runs are BAD_INPUT. */
  dispose(): void;
  [Symbol.dispose](): void;
}

export interface Backend {
  run(inputs: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  dispose?(): void;
}

const fmt = (dtype: string, shape: readonly unknown[]) => `${dtype}[${shape.join(',')}]`;
const describe = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'object' ? (x as object).constructor?.name ?? 'an object' : `a ${typeof x}`);

/** Checks run() inputs against the model's; every misuse is BAD_INPUT naming the input and the difference. */
export function checkRunInputs(specs: readonly IOSpec[], inputs: unknown): asserts inputs is Record<string, Tensor> {
  const names = specs.map((s) => s.name).join(', ');
  if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
    throw new CnncError('BAD_INPUT', `run() takes an object of named tensors { ${names} }, got ${describe(inputs)}`);
  }
  const given = inputs as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!specs.some((s) => s.name === name)) throw new CnncError('BAD_INPUT', `'${name}' is not an input of the model (inputs: ${names})`, { value: name });
  }
  for (const spec of specs) {
    const t = given[spec.name];
    const want = `${fmt(spec.dtype, spec.shape)} (${arrayTypeOf(spec.dtype)})`;
    const fail = (msg: string): never => { throw new CnncError('BAD_INPUT', `input '${spec.name}' ${msg}; the model takes ${want}`, { value: spec.name }); };
    if (t === undefined) fail('is missing');
    if (typeof t !== 'object' || t === null) fail(`is ${describe(t)}, not a tensor { dtype, shape, data }`);
    const { dtype, shape, data } = t as Partial<Tensor>;
    if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) fail(`has dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
    if (dtype !== spec.dtype) fail(`is ${fmt(dtype as string, shape as number[])}: dtype ${dtype}, not ${spec.dtype}`);
    if (shape!.length !== spec.shape.length || shape!.some((d, i) => d !== spec.shape[i])) fail(`has shape [${shape}], not [${spec.shape}]`);
    const arrayType = arrayTypeOf(spec.dtype as DType);
    const ctor = (globalThis as unknown as Record<string, Function>)[arrayType];
    if (!ArrayBuffer.isView(data) || !(data instanceof ctor)) fail(`data is ${describe(data)}; ${spec.dtype} data is a ${arrayType}`);
    const n = sizeOf(spec.shape);
    if ((data as unknown as ArrayLike<number>).length !== n) fail(`data has ${(data as unknown as ArrayLike<number>).length} elements, shape [${spec.shape}] has ${n}`);
  }
}

/** A Session over a backend: checked inputs, queued runs, dispose. */
export function makeSession(target: string, inputs: IOSpec[], outputs: IOSpec[], backend: Backend): Session {
  let queue: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    void queue.then(() => backend.dispose?.()); // after the runs already queued
  };
  return {
    target,
    inputs,
    outputs,
    run(given) {
      if (disposed) return Promise.reject(new CnncError('BAD_INPUT', 'run() on a disposed session: load the artifact again'));
      try {
        checkRunInputs(inputs, given);
      } catch (e) {
        return Promise.reject(e);
      }
      const result = queue.then(() => backend.run(given));
      queue = result.catch(() => undefined);
      return result;
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
