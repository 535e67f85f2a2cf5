/** Whole models on the wasm target: the suite in test/models-suite.ts (shared by every artifact target). */
import { modelSuite } from './models-suite.js';

await modelSuite('wasm');
