// A delivery target for trying Sluice by hand: prints what it receives and answers
// 200, or the status given with --status (e.g. 422 to see a business failure).
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4000' },
    status: { type: 'string', default: '200' },
  },
});
const status = Number(values.status);

createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const id = request.headers['x-aux-system-msg-id'] ?? '-';
    const flags = request.headers['x-sluice-possible-duplicate'] ? ' (possible duplicate)' : '';
    process.stdout.write(`${request.method} ${request.url} id=${id} attempt=${request.headers['x-sluice-attempt'] ?? '-'}${flags}\n${body}\n`);
    response.writeHead(request.method === 'POST' ? status : 200, { 'content-type': 'text/plain' });
    response.end(request.method === 'POST' && status >= 400 ? `rejected with ${status}\n` : 'ok\n');
  });
}).listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`demo target on http://127.0.0.1:${values.port}, answering POSTs with ${status}\n`);
});
