/**
 * `npm run bench [-- --target wasm] [--runs N] [--warmup N] [--models a,b] [--no-write]`:
 * runs one target's benchmark, prints its tables and writes them into docs/benchmarks.md.
 * Each target keeps its code in bench/<target>.ts; add a case here.
 */
import { Command } from 'commander';

const program = new Command()
  .option('--target <target>', 'which target to benchmark', 'wasm')
  .option('--runs <n>', 'timed runs per measurement (≥ 20)', '20')
  .option('--warmup <n>', 'warm-up runs before timing', '10')
  .option('--models <list>', 'comma-separated model names (default: the target\'s set)')
  .option('--no-write', 'print only, do not update docs/benchmarks.md')
  .parse();
const o = program.opts<{ target: string; runs: string; warmup: string; models?: string; write: boolean }>();
const common = { runs: Math.max(20, Number(o.runs)), warmup: Number(o.warmup), models: o.models?.split(','), write: o.write };

switch (o.target) {
  case 'wasm': {
    const { benchWasm } = await import('./wasm.js');
    console.log(await benchWasm(common));
    break;
  }
  case 'compile': {
    // only the compile/load table (also part of the wasm benchmark): npm run bench -- --target compile
    const { benchCompileLoad, compileLoadTable } = await import('./compile-load.js');
    console.log(compileLoadTable(await benchCompileLoad(common.models)));
    break;
  }
  case 'layers': {
    // per-layer share of the SIMD peak / stream bandwidth, wasm (bench/layers.ts)
    const { benchLayers } = await import('./layers.js');
    console.log(await benchLayers(common));
    break;
  }
  case 'wasm-threads': {
    const { benchWasmThreads } = await import('./wasm-threads.js');
    console.log(await benchWasmThreads(common));
    break;
  }
  case 'wasm-peers-threads': {
    // cnnc vs LiteRT.js vs onnxruntime-web in Node at 1 and 2 threads, one interleaved run (bench/wasm-peers.ts)
    const { benchWasmPeers } = await import('./wasm-peers.js');
    console.log(await benchWasmPeers(common));
    break;
  }
  case 'browser': {
    const { benchBrowser } = await import('./browser.js');
    console.log(await benchBrowser(common));
    break;
  }
  case 'int8': {
    const { benchInt8 } = await import('./int8.js');
    console.log(await benchInt8(common));
    break;
  }
  case 'fusion': {
    const { benchFusion } = await import('./fusion.js');
    console.log(await benchFusion(common));
    break;
  }
  case 'cuda': {
    const { benchCuda } = await import('./cuda.js');
    console.log(await benchCuda(common));
    break;
  }
  case 'wgsl': {
    const { benchWgsl } = await import('./wgsl.js');
    console.log(await benchWgsl(common));
    break;
  }
  default:
    console.error(`no benchmark for target '${o.target}' (targets: wasm, layers, wasm-threads, wasm-peers-threads, browser, int8, fusion, wgsl, cuda, compile)`);
    process.exit(1);
}
