/**
 * For test/unit/authz/grpc-unary.test.ts: what a unary server still holds for calls that sent a
 * few bytes and stay open, measured in a process that runs nothing else (another test's buffers
 * freed meanwhile would blur a few MB either way). Starts the server, has
 * kept-streams-client.ts (a process of its own: its buffers do not count here) open the calls,
 * and prints one JSON line: the ArrayBuffer bytes held while they are open, less those held
 * once they closed.
 *
 *   tsx test/support/kept-streams-server.ts prefix|message <connections>
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createUnaryServer } from '../../src/authz/grpc-unary.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const arrayBuffers = () => {
  gc();
  return process.memoryUsage().arrayBuffers;
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

const [mode, connections] = [process.argv[2]!, process.argv[3]!];
const server = createUnaryServer({
  maxRequestBytes: 1024,
  maxConcurrentStreams: 16,
  maxHeaderListBytes: 8 * 1024,
  methods: { '/test.Echo/Echo': { decode: (bytes: Buffer) => bytes.toString(), encode: (s: string) => Buffer.from(s), handle: (s: string) => s } },
});
const port = await server.listen('127.0.0.1', 0);
const client = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'kept-streams-client.ts'), String(port), mode, connections], { stdio: ['pipe', 'pipe', 'inherit'] });
const exited = new Promise((resolve) => client.once('exit', resolve));
const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
if ((await lines.next()).value !== 'kept') throw new Error('the client did not open its calls');
await settle();
const held = arrayBuffers();
client.stdin!.end();
await exited;
await settle();
process.stdout.write(`${JSON.stringify({ heldWhileOpen: held - arrayBuffers() })}\n`);
await server.close();
process.exit(0);
