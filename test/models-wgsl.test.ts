/** Whole models on the wgsl target: the suite in test/models-suite.ts (shared by every artifact target). */
import { modelSuite } from './models-suite.js';

await modelSuite('wgsl');
