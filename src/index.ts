/**
 * `chio`: the Node public surface (STYLE §13). What is exported here, and from `chio/verify`
 * (src/verify/index.ts, portable to any JavaScript runtime), is what others may use; every other
 * module is internal and may change without notice.
 *
 *   services       startAll (authz, ledger and verifier in one process, like `chio up`) or one
 *                  service at a time on a NATS connection
 *   configuration  loadConfig (CHIO_* environment over an optional YAML file), createLogger
 *   keys           generateKeys / loadKey for the key directory (SPEC §8)
 *   errors         ChioError with a stable code, and the one table from code to gRPC status,
 *                  HTTP status, denial guard and CLI exit code
 *   receipts       the receipt format (SPEC §5) and everything `chio/verify` verifies with
 */
export { startAll, type RunningChio } from './up.js';
export { natsSettings } from './nats/connection.js';
export { startAuthz, type RunningAuthz } from './authz/service.js';
export { startLedger, type RunningLedger } from './ledger/service.js';
export { startVerifier, type RunningVerifier } from './verifier/service.js';
export { connectNats, type NatsSettings } from './nats/connection.js';

export { loadConfig, type ChioConfig, type LoadConfigOptions } from './config.js';
export { createLogger } from './log.js';
export { KEY_ROLES, generateKeys, loadKey, loadKeyFile, loadVerifierKey, type KeyRole, type LoadedKey } from './keys.js';

export { ChioError, isChioError, toChioError, type ChioErrorCode } from './errors/index.js';
export { GRPC, statusOf, clientReason, codeOfHttpStatus, type WireStatus, type DenialGuard } from './errors/status.js';

// Receipts, checkpoints and proofs: the same list as `chio/verify`, kept in one place.
export * from './verify/index.js';
