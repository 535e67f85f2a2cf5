/**
 * The ONNX frontend as the library exports it. The functions are import.ts's own; their types are
 * written out here so that the public declarations (dist/index.d.ts) do not reach import.ts's, which
 * name onnx-proto's protobuf types: an app that type-checks with skipLibCheck: false would need
 * protobufjs's `Long` in scope. test/package-compiler-types.test.ts checks this.
 */
import type { Graph } from '../../ir/graph.js';
import type { Tensor } from '../../runtime/tensor.js';
import * as onnxImport from './import.js';
import type { ImportOptions } from './options.js';

export type { ImportOptions } from './options.js';

/** Imports an ONNX model (its bytes) as a Graph. */
export const importOnnx: (bytes: Uint8Array, opts?: ImportOptions) => Graph = onnxImport.importOnnx;

/** Reads and imports an .onnx file; external data may come from files beside it. */
export const loadOnnxFile: (file: string, opts?: ImportOptions) => Graph = onnxImport.loadOnnxFile;

/** A tensor from a serialized TensorProto (the .pb files of ONNX test data). */
export const readTensorProto: (bytes: Uint8Array, opts?: { maxTensorBytes?: number }) => Tensor = onnxImport.readTensorProto;
