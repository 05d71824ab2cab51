/**
 * The gRPC definitions Chio serves, loaded from the .proto files under `proto/` at the package
 * root: Envoy's `envoy.service.auth.v3.Authorization` (ext_authz v3, SPEC §2) and
 * `grpc.health.v1.Health`. Each file there names the upstream file it was trimmed from.
 *
 * Loader options, and so the shape of every message object a handler receives or returns:
 *
 *   keepCase: true   field names as in the .proto files (`socket_address`, `ok_response`),
 *                    which is what the interfaces in ./wire.ts spell;
 *   longs: String    int64/uint64 as decimal strings (HttpRequest.size, Timestamp.seconds):
 *                    exact, and no Long objects leak into the pipeline;
 *   enums: numbers   (proto-loader's default) enum fields decode to their numeric value and
 *                    encode from either number or name; SPEC §2 states its values as numbers
 *                    (append_action = 2, HTTP status 403);
 *   defaults: true   absent scalars decode as their zero value, absent messages as null;
 *   oneofs: true     each set oneof also names its member (`http_response: 'ok_response'`).
 *
 * One exception to keepCase: the members of google.protobuf.Value are camelCase (`stringValue`,
 * `structValue`, `numberValue`, `boolValue`, `nullValue`, `listValue`), because protobufjs
 * bundles struct.proto as JSON with those names and resolves every google/protobuf import to
 * its bundle. A Value written with snake_case members encodes as an empty Value, silently.
 *
 * google/protobuf/{any,struct,timestamp,wrappers}.proto are not in `proto/`: protobufjs
 * bundles them and resolves those imports itself.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { ChioError } from '../errors/index.js';
import { shapeOf, type MessageShape } from './message-cost.js';

import type { CheckRequest, CheckResponse } from './wire.js';

export type { CheckRequest, CheckResponse } from './wire.js';

/** Fully qualified names of the two services, as in the .proto files. */
export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** The files loaded, relative to the proto directory; their imports come along. */
const ROOT_FILES = ['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'];

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  defaults: true,
  oneofs: true,
};

export interface ChioProtos {
  packageDefinition: protoLoader.PackageDefinition;
  /** `envoy.service.auth.v3.Authorization`: for `server.addService`. */
  authorizationService: grpc.ServiceDefinition;
  /** `grpc.health.v1.Health`: for `server.addService`. */
  healthService: grpc.ServiceDefinition;
  /** A client constructor for `envoy.service.auth.v3.Authorization` (`chio check`, tests). */
  authorizationClient: AuthorizationClientConstructor;
  /** How a CheckRequest's bytes are read, for counting what decoding them builds (./message-cost.ts). */
  checkRequestShape: MessageShape;
}

type CheckCallback = (err: grpc.ServiceError | null, response: CheckResponse) => void;

/** A client of `envoy.service.auth.v3.Authorization`, as Envoy calls it. */
export interface AuthorizationClient extends grpc.Client {
  Check(request: CheckRequest, callback: CheckCallback): grpc.ClientUnaryCall;
  Check(request: CheckRequest, options: Partial<grpc.CallOptions>, callback: CheckCallback): grpc.ClientUnaryCall;
  Check(request: CheckRequest, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: CheckCallback): grpc.ClientUnaryCall;
}

export interface AuthorizationClientConstructor {
  new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>): AuthorizationClient;
  readonly serviceName: string;
}

/**
 * Load the ext_authz v3 and health protos. Synchronous: it reads a handful of local files
 * once at start-up. Throws ChioError('CONFIG_INVALID') when they cannot be found or parsed.
 */
export function loadChioProtos(protoDir: string = findProtoDir()): ChioProtos {
  // The files do not change while a process runs: parse them once per directory.
  let protos = loaded.get(protoDir);
  if (!protos) {
    protos = loadFrom(protoDir);
    loaded.set(protoDir, protos);
  }
  return protos;
}

const loaded = new Map<string, ChioProtos>();

function loadFrom(protoDir: string): ChioProtos {
  if (!hasProtos(protoDir)) throw new ChioError('CONFIG_INVALID', `no protos in ${protoDir}`);
  let packageDefinition: protoLoader.PackageDefinition;
  try {
    packageDefinition = protoLoader.loadSync(ROOT_FILES, { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] });
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `cannot load the protos from ${protoDir}`, { cause: err });
  }
  const authorizationService = serviceOf(packageDefinition, AUTHORIZATION_SERVICE);
  const healthService = serviceOf(packageDefinition, HEALTH_SERVICE);
  return {
    packageDefinition,
    authorizationService,
    healthService,
    checkRequestShape: shapeOf(protobufRoot(protoDir).lookupType('envoy.service.auth.v3.CheckRequest')),
    // makeClientConstructor adds one method per rpc; the interface above names them.
    authorizationClient: grpc.makeClientConstructor(authorizationService, AUTHORIZATION_SERVICE) as unknown as AuthorizationClientConstructor,
  };
}

/**
 * The same files as protobufjs reflection types: proto-loader builds its codecs from such a
 * root and does not expose it. Imports resolve under `protoDir`, google/protobuf/* to the
 * definitions protobufjs bundles, as proto-loader resolves them.
 */
function protobufRoot(protoDir: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(protoDir, target));
  try {
    root.loadSync(ROOT_FILES, { keepCase: true });
    root.resolveAll();
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `cannot load the protos from ${protoDir}`, { cause: err });
  }
  return root;
}

/**
 * The `proto/` directory of this package. This module runs from src/authz/ (tsx, vitest) or
 * dist/authz/ (built with tsconfig.build.json), both two levels below the package root; a
 * build that keeps the src/ level (dist/src/authz/) is three levels below.
 */
export function findProtoDir(): string {
  for (const relative of ['../../proto/', '../../../proto/']) {
    const dir = fileURLToPath(new URL(relative, import.meta.url));
    if (hasProtos(dir)) return dir;
  }
  throw new ChioError('CONFIG_INVALID', `proto directory not found near ${import.meta.url}`);
}

function hasProtos(dir: string): boolean {
  return ROOT_FILES.every((file) => existsSync(join(dir, file)));
}

function serviceOf(def: protoLoader.PackageDefinition, name: string): grpc.ServiceDefinition {
  const service = def[name];
  if (service === undefined || 'format' in service) {
    throw new ChioError('CONFIG_INVALID', `${name} is not a service in the loaded protos`);
  }
  return service as grpc.ServiceDefinition;
}
