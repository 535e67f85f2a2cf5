#!/usr/bin/env node
// The cnnc command. Runs the built CLI (dist/) when present, else the TypeScript sources through tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  // binaryen (14 MB of JavaScript) loaded before tsx's hooks: through them it takes ~11 s of CPU (tsx
  // writes a source map for any .js that contains `import(`), plain ~0.7 s; the sources then share it
  if (process.argv.slice(2).includes('compile')) await import('binaryen');
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../cli/main.ts', import.meta.url).href);
}
