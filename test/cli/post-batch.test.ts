import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestGateway } from '../helpers/gateway';
import { EXIT } from '../../cli/exit-codes';
import { run } from '../../cli/program';
import { parseMessageFile } from '../../cli/commands/messages';

async function runCli(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(['node', 'sluice', ...args], {
    stdout: (chunk) => void (stdout += Buffer.from(chunk).toString('utf8')),
    stderr: (chunk) => void (stderr += chunk),
  });
  return { code, stdout, stderr };
}

describe('sluice messages post-batch', () => {
  let gw: TestGateway;
  let key: string;
  let dir: string;

  before(async () => {
    gw = await TestGateway.start({ deliver: false });
    key = await gw.partner('acme');
    await gw.connection('erp', { url: 'http://127.0.0.1:9/erp' });
    await gw.flow('orders', { partnerId: 'acme', destinations: ['erp'] });
    dir = await mkdtemp(join(tmpdir(), 'sluice-batch-'));
  });

  after(async () => {
    await gw?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads { messages }, a JSON array or JSON lines', () => {
    const one = { id: 'a', payload: 'x' };
    assert.deepEqual(parseMessageFile(JSON.stringify({ messages: [one] }), 'f'), [one]);
    assert.deepEqual(parseMessageFile(JSON.stringify([one, one]), 'f'), [one, one]);
    assert.deepEqual(parseMessageFile(`${JSON.stringify(one)}\n\n${JSON.stringify({ ...one, id: 'b' })}\n`, 'f'), [
      one,
      { ...one, id: 'b' },
    ]);
    assert.throws(() => parseMessageFile('{"id": "a"}\nnot json', 'f'), /line 2/);
  });

  it('posts a JSON-lines file of 150 messages in file order, 100 per request, and exits 1 when one is rejected', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => JSON.stringify({ id: `CLI-${String(i).padStart(3, '0')}`, payload: `line ${i}` }));
    lines[120] = JSON.stringify({ id: 'CLI-bad', payload: '' });
    const file = join(dir, 'messages.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const result = await runCli([
      '--endpoint',
      gw.url,
      '--json',
      'messages',
      'post-batch',
      '--flow',
      'orders',
      '--file',
      file,
      '--api-key',
      key,
    ]);
    assert.equal(result.code, EXIT.apiError, result.stderr);
    assert.match(result.stderr, /1 of 150 messages were not accepted/);
    const { results } = JSON.parse(result.stdout) as { results: { messageId: string; status?: string; error?: { code: string } }[] };
    assert.equal(results.length, 150);
    assert.equal(results[120]!.error!.code, 'empty-payload');
    assert.equal(results.filter((r) => r.status === 'accepted').length, 149);
    const times = results.filter((r) => r.status).map((r) => (r as { receivedAt?: string }).receivedAt!);
    assert.deepEqual([...times].sort(), times, 'accepted in file order');
    assert.equal((await gw.request('GET', '/v1/flows/orders/messages/CLI-149', { token: key })).status, 200);

    const again = await runCli(['--endpoint', gw.url, 'messages', 'post-batch', '--flow', 'orders', '--file', file, '--api-key', key]);
    assert.match(again.stdout, /CLI-000\s+duplicate/);
    assert.equal(again.code, EXIT.apiError, 'the empty one is still rejected');
  });

  it('needs an API key and a readable file (usage errors)', async () => {
    const noKey = await runCli(['--endpoint', gw.url, 'messages', 'post-batch', '--flow', 'orders', '--file', join(dir, 'nope.json')]);
    assert.equal(noKey.code, EXIT.usage);
    const noFile = await runCli([
      '--endpoint',
      gw.url,
      'messages',
      'post-batch',
      '--flow',
      'orders',
      '--file',
      join(dir, 'nope.json'),
      '--api-key',
      key,
    ]);
    assert.equal(noFile.code, EXIT.usage);
    const badKey = await runCli([
      '--endpoint',
      gw.url,
      'messages',
      'post-batch',
      '--flow',
      'orders',
      '--file',
      join(dir, 'messages.jsonl'),
      '--api-key',
      'wrong',
    ]);
    assert.equal(badKey.code, EXIT.apiError);
  });
});
