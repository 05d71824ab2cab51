/**
 * `chio authz` cut short, to show in the same run where a Check's CPU goes (not a product
 * mode: nothing here is reachable from `chio`):
 *
 *   edge     Chio's gRPC edge (authz/grpc-server.ts: node:http2, the request decoded, the
 *            response encoded) answering a fixed allow: the transport's own cost;
 *   decide   the edge and the whole decision pipeline and handler, answering from a receipt
 *            that is neither signed nor stored: what the decision adds.
 *
 *   tsx bench/stage-server.ts edge|decide <port> <key dir> <policies>   prints "listening"
 */
import { startGrpcServer } from '../src/authz/grpc-server.js';
import type { CheckHandler } from '../src/authz/check-handler.js';
import type { CheckResponse } from '../src/authz/wire.js';
import { createLogger } from '../src/log.js';
import { decidingHandler } from './lib/deciding-handler.js';

const [mode, port, keyDir, policies] = process.argv.slice(2);
const log = createLogger('error');
const ALLOW: CheckResponse = { status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [], response_headers_to_add: [] } };

if (mode !== 'edge' && mode !== 'decide') throw new Error('usage: stage-server.ts edge|decide <port> <key dir> <policies>');
const handler = mode === 'edge' ? ({ check: async () => ALLOW } as unknown as CheckHandler) : decidingHandler(policies!, keyDir!);
await startGrpcServer({ bind: '127.0.0.1', port: Number(port), handler, ready: () => undefined, log });
process.stdout.write('listening\n');
process.on('SIGTERM', () => process.exit(0));
