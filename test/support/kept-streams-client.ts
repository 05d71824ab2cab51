/**
 * A client for test/unit/authz/grpc-unary.test.ts, in a process of its own so that its own
 * buffers do not count in the server's memory: on each of N connections, 12 calls that send a
 * few bytes and are kept open, each written in the same socket write as another call's 60 KB
 * message (which the server refuses). Prints "kept" once they are all open; closes them all and
 * exits when its standard input ends.
 *
 *   tsx test/support/kept-streams-client.ts <port> prefix|message <connections>
 */
import { connect, constants, type ClientHttp2Stream } from 'node:http2';
import { frameMessage } from '../../src/authz/grpc-protocol.js';

const [port, mode, connections] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const ECHO = '/test.Echo/Echo';
const request = { ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' };
// One byte of a prefix, or a whole message whose stream is not ended.
const first = () => (mode === 'prefix' ? Uint8Array.of(0) : frameMessage(new TextEncoder().encode('tiny')));

const sessions = Array.from({ length: connections }, () => connect(`http://127.0.0.1:${port}`).on('error', () => undefined));
const kept: ClientHttp2Stream[] = [];
for (const session of sessions) {
  for (let i = 0; i < 12; i++) {
    const stream = session.request(request);
    stream.on('error', () => undefined);
    stream.write(first());
    kept.push(stream);
    // Written in the same turn of the loop: one socket write, one read at the server.
    const other = session.request(request);
    other.on('error', () => undefined);
    other.resume();
    other.end(frameMessage(new Uint8Array(60_000)));
    await new Promise((r) => other.once('close', r));
  }
}
process.stdout.write('kept\n');
process.stdin.resume();
process.stdin.once('end', () => {
  for (const stream of kept) stream.close(constants.NGHTTP2_CANCEL);
  for (const session of sessions) session.close();
  setTimeout(() => process.exit(0), 100).unref();
});
