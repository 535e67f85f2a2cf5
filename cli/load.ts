/** Resolves what a user names on the command line: `zoo:NAME` or a path to an .onnx file. */
import { existsSync } from 'node:fs';
import { CnncError } from '../runtime/errors.js';
import type { Graph } from '../ir/graph.js';
import { zoo, ZOO_NAMES } from '../models/index.js';
import { loadOnnxFile } from '../frontends/onnx/import.js';

export interface LoadOptions {
  batch?: number;
}

export function loadModel(spec: string, opts: LoadOptions = {}): Graph {
  if (spec.startsWith('zoo:')) {
    const name = spec.slice(4);
    if (!ZOO_NAMES.includes(name)) {
      throw new CnncError('IO_ERROR', `no zoo model '${name}'. Try one of: ${ZOO_NAMES.join(', ')} (cnnc zoo lists them)`);
    }
    return zoo(name, { batch: opts.batch });
  }
  if (!existsSync(spec)) {
    throw new CnncError('IO_ERROR', `no such file '${spec}'. Give a path to an .onnx file or zoo:NAME (cnnc zoo lists the embedded models)`);
  }
  if (!spec.endsWith('.onnx')) {
    throw new CnncError('IO_ERROR', `'${spec}' is not an .onnx file. cnnc reads ONNX models (.onnx) and zoo:NAME`);
  }
  return loadOnnxFile(spec, { batch: opts.batch });
}
