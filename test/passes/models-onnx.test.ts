// The -O3 pipeline on the real ONNX models of ../shared/models (see model-suite.ts for what is checked).
import { describe, it } from 'vitest';
import { modelSuite, ONNX_CASES } from './model-suite.js';

if (ONNX_CASES.length) modelSuite(ONNX_CASES);
else describe('ONNX models', () => it.skip('skipped: ../shared/models is not on this machine', () => {}));
