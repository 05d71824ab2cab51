/**
 * The baseline every Check row is compared with: a bare grpc-js server that answers every
 * Check with an allow and does nothing else — no decision, no receipt, no NATS. Same protos,
 * same grpc-js, same Node as `chio authz`, in its own process.
 *
 *   tsx bench/bare-server.ts [port]   prints "listening <port>" once ready
 */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from '../src/authz/proto.js';
import type { CheckResponse } from '../src/authz/wire.js';

const ALLOW: CheckResponse = { status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [], response_headers_to_add: [] } };

const { authorizationService } = loadChioProtos();
const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
server.addService(authorizationService, {
  Check: (_call: grpc.ServerUnaryCall<unknown, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) => callback(null, ALLOW),
});
server.bindAsync(`127.0.0.1:${Number(process.argv[2] ?? 0)}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
