/**
 * A static server for the demo on 127.0.0.1, with the COOP/COEP headers that make the page
 * cross-origin isolated (SharedArrayBuffer for wasm threads).   npx tsx examples/web/serve.ts DIR [PORT]
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm',
};

/**
 * Serves `dir`; resolves with the server once it listens (port 0 = any free port). `isolated: false`
 * leaves out COOP/COEP, as a plain static host does: the page then runs wasm on one thread.
 */
export function serve(dir: string, port = 0, { isolated = true } = {}): Promise<Server> {
  const root = resolve(dir);
  const server = createServer(async (req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const file = path.endsWith(sep) || path === root ? join(path, 'index.html') : path;
    const headers: Record<string, string> = isolated ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    if (!file.startsWith(root)) { res.writeHead(403, headers).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });
  return new Promise((ok) => server.listen(port, '127.0.0.1', () => ok(server)));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const server = await serve(process.argv[2] ?? join(fileURLToPath(import.meta.url), '../dist'), Number(process.argv[3] ?? 8080));
  const a = server.address();
  console.log(`serving on http://127.0.0.1:${typeof a === 'object' && a ? a.port : ''}/`);
}
