// The -O3 pipeline on the DSL zoo models (see model-suite.ts for what is checked).
import { modelSuite, ZOO_CASES } from './model-suite.js';

modelSuite(ZOO_CASES);
