import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { AUTHORIZATION_SERVICE, findProtoDir, HEALTH_SERVICE, loadChioProtos } from '../../../src/authz/proto.js';
import type { CheckRequest, CheckResponse } from '../../../src/authz/proto.js';
import { isChioError } from '../../../src/errors/index.js';

const FIXTURE = JSON.parse(
  readFileSync(new URL('../../fixtures/envoy-check-request.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

// The same .proto files, loaded by protobufjs directly so that tests can reach the reflection
// types (proto-loader hands out descriptors, not protobufjs types).
function loadRoot(): protobuf.Root {
  const dir = findProtoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  root.loadSync(['envoy/service/auth/v3/external_auth.proto', 'grpc/health/v1/health.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

const root = loadRoot();
const CheckRequestType = root.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponseType = root.lookupType('envoy.service.auth.v3.CheckResponse');

// ---- protobuf JSON mapping (proto3 JSON) for the types the fixture uses -------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function asObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: not an object`);
  return v as Record<string, unknown>;
}

function fieldFor(type: protobuf.Type, jsonKey: string): protobuf.Field {
  const field = type.fieldsArray.find((f) => f.name === jsonKey || protobuf.util.camelCase(f.name) === jsonKey);
  if (!field) throw new Error(`${type.fullName} has no field for JSON key ${jsonKey}`);
  return field;
}

/** Protobuf-JSON → proto-loader object (keepCase). Strict: an unknown key throws. */
function fromProtoJson(type: protobuf.Type, json: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(asObject(json, type.fullName))) {
    const field = fieldFor(type, key);
    if (field.map) {
      out[field.name] = Object.fromEntries(Object.entries(asObject(value, key)).map(([k, v]) => [k, fromJsonValue(field, v)]));
    } else if (field.repeated) {
      out[field.name] = (value as unknown[]).map((v) => fromJsonValue(field, v));
    } else {
      out[field.name] = fromJsonValue(field, value);
    }
  }
  return out;
}

function fromJsonValue(field: protobuf.Field, v: unknown): unknown {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) return typeof v === 'string' ? t.values[v] : v;
  if (t instanceof protobuf.Type) {
    switch (t.fullName) {
      case '.google.protobuf.Timestamp':
        return timestampFromJson(v as string);
      case '.google.protobuf.Struct':
        return structFromJson(v);
      case '.google.protobuf.Any':
        throw new Error('Any is not used by the fixture');
      default:
        return fromProtoJson(t, v);
    }
  }
  if (['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'].includes(field.type)) return String(v);
  if (field.type === 'bytes') return Uint8Array.from(Buffer.from(v as string, 'base64'));
  return v;
}

function timestampFromJson(text: string): { seconds: string; nanos: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 UTC timestamp: ${text}`);
  return { seconds: String(Date.parse(`${m[1]}Z`) / 1000), nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

function structFromJson(v: unknown): { fields: Record<string, unknown> } {
  return { fields: Object.fromEntries(Object.entries(asObject(v, 'Struct')).map(([k, x]) => [k, valueFromJson(x)])) };
}

function valueFromJson(v: unknown): Record<string, unknown> {
  if (v === null) return { null_value: 0 };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(valueFromJson) } };
  return { struct_value: structFromJson(v) };
}

/** Decoded message (protobufjs toObject, keepCase, longs as strings) → protobuf-JSON. */
function toProtoJson(type: protobuf.Type, obj: Record<string, unknown>): Json {
  const out: Record<string, Json> = {};
  for (const [name, value] of Object.entries(obj)) {
    const field = type.fields[name];
    if (!field) throw new Error(`${type.fullName} has no field ${name}`);
    const key = protobuf.util.camelCase(field.name);
    if (field.map) {
      out[key] = Object.fromEntries(Object.entries(asObject(value, name)).map(([k, v]) => [k, toJsonValue(field, v)]));
    } else if (field.repeated) {
      out[key] = (value as unknown[]).map((v) => toJsonValue(field, v));
    } else {
      out[key] = toJsonValue(field, value);
    }
  }
  return out;
}

function toJsonValue(field: protobuf.Field, v: unknown): Json {
  const t = field.resolvedType;
  if (t instanceof protobuf.Enum) return t.valuesById[v as number] ?? (v as number);
  if (t instanceof protobuf.Type) {
    if (t.fullName === '.google.protobuf.Timestamp') return timestampToJson(v as { seconds?: string; nanos?: number });
    return toProtoJson(t, asObject(v, field.name));
  }
  if (field.type === 'bytes') return Buffer.from(v as Uint8Array).toString('base64');
  return v as Json;
}

function timestampToJson(ts: { seconds?: string; nanos?: number }): string {
  const base = new Date(Number(ts.seconds ?? '0') * 1000).toISOString().slice(0, 19);
  const nanos = ts.nanos ?? 0;
  // proto3 JSON writes 0, 3, 6 or 9 fractional digits.
  const digits = nanos === 0 ? 0 : nanos % 1e6 === 0 ? 3 : nanos % 1e3 === 0 ? 6 : 9;
  return `${base}${digits ? `.${String(nanos).padStart(9, '0').slice(0, digits)}` : ''}Z`;
}

// ---- the wire, read with no schema at all -------------------------------------------------

interface WireField {
  no: number;
  wireType: number;
  varint?: number;
  bytes?: Uint8Array;
}

/** The top-level fields of one encoded message, in order. */
function wireFields(bytes: Uint8Array): WireField[] {
  const r = protobuf.Reader.create(bytes);
  const out: WireField[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wireType = tag & 7;
    if (wireType === 0) out.push({ no, wireType, varint: r.uint32() });
    else if (wireType === 2) out.push({ no, wireType, bytes: r.bytes() });
    else {
      r.skipType(wireType);
      out.push({ no, wireType });
    }
  }
  return out;
}

/** The payloads of field `no` (length-delimited) in `bytes`. */
function sub(bytes: Uint8Array, no: number): Uint8Array[] {
  return wireFields(bytes)
    .filter((f) => f.no === no && f.bytes !== undefined)
    .map((f) => f.bytes as Uint8Array);
}

function only(bytes: Uint8Array, no: number): Uint8Array {
  const all = sub(bytes, no);
  expect(all, `field ${no}`).toHaveLength(1);
  return all[0] as Uint8Array;
}

function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

function varint(bytes: Uint8Array, no: number): number | undefined {
  return wireFields(bytes).find((f) => f.no === no && f.wireType === 0)?.varint;
}

// ---- a CheckResponse as Chio writes it (SPEC §2), typed by the public interfaces ----------

const OK_RESPONSE: CheckResponse = {
  status: { code: 0 },
  ok_response: {
    headers: [{ header: { key: 'x-chio-verdict', value: 'allow' }, append_action: 2 }],
    headers_to_remove: ['x-chio-capability-token'],
    response_headers_to_add: [{ header: { key: 'x-chio-receipt-id', value: 'ab'.repeat(32) }, append_action: 2 }],
  },
};

// google.protobuf.Value's members are camelCase whatever keepCase says: protobufjs bundles
// struct.proto as JSON with camelCase names, and resolves every google/protobuf import there.
const ALLOW = {
  ...OK_RESPONSE,
  dynamic_metadata: {
    fields: { chio: { structValue: { fields: { verdict: { stringValue: 'allow' } } } } },
  },
};

const DENY: CheckResponse = {
  status: { code: 7, message: 'denied' },
  denied_response: {
    status: { code: 403 },
    headers: [{ header: { key: 'x-chio-verdict', value: 'deny' }, append_action: 2 }],
    body: '{"verdict":"deny"}',
  },
};

// --------------------------------------------------------------------------------------------

describe('loadChioProtos', () => {
  const protos = loadChioProtos();

  describe('when loading the services', () => {
    it('serves Check at the path Envoy calls', () => {
      expect(protos.authorizationService.Check?.path).toBe(`/${AUTHORIZATION_SERVICE}/Check`);
      expect(protos.authorizationService.Check?.path).toBe('/envoy.service.auth.v3.Authorization/Check');
      expect(protos.authorizationService.Check?.requestStream).toBe(false);
      expect(protos.authorizationService.Check?.responseStream).toBe(false);
    });

    it('serves the gRPC health protocol', () => {
      expect(protos.healthService.Check?.path).toBe(`/${HEALTH_SERVICE}/Check`);
      expect(protos.healthService.Watch?.path).toBe('/grpc.health.v1.Health/Watch');
      expect(protos.healthService.Watch?.responseStream).toBe(true);
    });

    it('provides a client constructor for the Authorization service', () => {
      expect(protos.authorizationClient.serviceName).toBe(AUTHORIZATION_SERVICE);
      expect(typeof protos.authorizationClient.prototype.Check).toBe('function');
    });

    it('finds the proto directory at the package root', () => {
      expect(findProtoDir()).toBe(new URL('../../../proto/', import.meta.url).pathname);
    });

    it('throws CONFIG_INVALID for a directory without the protos', () => {
      try {
        loadChioProtos('/nonexistent-chio-proto-dir/');
        expect.unreachable();
      } catch (err) {
        expect(isChioError(err, 'CONFIG_INVALID')).toBe(true);
      }
    });
  });

  describe('when Envoy sends the captured CheckRequest', () => {
    const message = fromProtoJson(CheckRequestType, FIXTURE);
    const bytes = CheckRequestType.encode(CheckRequestType.fromObject(message)).finish();

    it('decodes back to the same protobuf JSON, every field intact', () => {
      const decoded = CheckRequestType.toObject(CheckRequestType.decode(bytes), { longs: String, bytes: Array });
      expect(toProtoJson(CheckRequestType, decoded)).toEqual(FIXTURE);
    });

    it('is what the Check handler receives, in keepCase form with defaults', () => {
      const req = protos.authorizationService.Check?.requestDeserialize(Buffer.from(bytes)) as CheckRequest;
      const attrs = req.attributes;
      expect(attrs?.source?.address?.socket_address).toMatchObject({ address: '10.244.0.71', port_value: 33880 });
      expect(attrs?.destination?.address?.socket_address).toMatchObject({ address: '10.244.0.65', port_value: 8080 });
      expect(attrs?.source?.principal).toBe('');
      expect(attrs?.request?.time).toEqual({ seconds: '1716191521', nanos: 566887000 });
      const http = attrs?.request?.http;
      expect(http).toMatchObject({
        id: '5415544797791892902',
        method: 'GET',
        path: '/movie',
        host: 'testapp-2.demo.svc.cluster.local:8080',
        scheme: 'http',
        protocol: 'HTTP/1.1',
        query: '',
        size: '0',
      });
      expect(http?.headers).toEqual({
        ':authority': 'testapp-2.demo.svc.cluster.local:8080',
        ':method': 'GET',
        ':path': '/movie',
        ':scheme': 'http',
        'user-agent': 'Wget',
        'x-forwarded-proto': 'http',
        'x-request-id': 'a3ad9f03-c9cd-4eab-97d1-83e90e0cee1b',
      });
    });

    it('puts each field at its upstream number on the wire', () => {
      const attributes = only(bytes, 1); // CheckRequest.attributes = 1
      const source = only(attributes, 1); // AttributeContext.source = 1
      const destination = only(attributes, 2); // AttributeContext.destination = 2
      const request = only(attributes, 4); // AttributeContext.request = 4
      expect(sub(attributes, 11)).toHaveLength(1); // metadata_context = 11
      expect(sub(attributes, 13)).toHaveLength(1); // route_metadata_context = 13

      const socket = only(only(source, 1), 1); // Peer.address = 1, Address.socket_address = 1
      expect(text(only(socket, 2))).toBe('10.244.0.71'); // SocketAddress.address = 2
      expect(varint(socket, 3)).toBe(33880); // SocketAddress.port_value = 3
      expect(varint(only(only(destination, 1), 1), 3)).toBe(8080);

      const time = only(request, 1); // Request.time = 1
      expect(varint(time, 1)).toBe(1716191521); // Timestamp.seconds = 1
      expect(varint(time, 2)).toBe(566887000); // Timestamp.nanos = 2

      const http = only(request, 2); // Request.http = 2
      expect(text(only(http, 1))).toBe('5415544797791892902'); // HttpRequest.id = 1
      expect(text(only(http, 2))).toBe('GET'); // method = 2
      expect(text(only(http, 4))).toBe('/movie'); // path = 4
      expect(text(only(http, 5))).toBe('testapp-2.demo.svc.cluster.local:8080'); // host = 5
      expect(text(only(http, 6))).toBe('http'); // scheme = 6
      expect(text(only(http, 10))).toBe('HTTP/1.1'); // protocol = 10
      const headers = sub(http, 3).map((entry) => [text(only(entry, 1)), text(only(entry, 2))]); // headers = 3
      expect(Object.fromEntries(headers)).toHaveProperty('x-request-id', 'a3ad9f03-c9cd-4eab-97d1-83e90e0cee1b');
      expect(headers).toHaveLength(7);
    });
  });

  describe('when Chio answers allow', () => {
    const bytes = protos.authorizationService.Check?.responseSerialize(ALLOW) as Buffer;

    it('puts each field at its upstream number on the wire', () => {
      expect(sub(bytes, 1)).toHaveLength(1); // CheckResponse.status = 1
      expect(sub(bytes, 2)).toHaveLength(0);
      const ok = only(bytes, 3); // ok_response = 3
      const header = only(ok, 2); // OkHttpResponse.headers = 2
      const value = only(header, 1); // HeaderValueOption.header = 1
      expect(text(only(value, 1))).toBe('x-chio-verdict'); // HeaderValue.key = 1
      expect(text(only(value, 2))).toBe('allow'); // HeaderValue.value = 2
      expect(varint(header, 3)).toBe(2); // append_action = 3, OVERWRITE_IF_EXISTS_OR_ADD = 2
      expect(text(only(ok, 5))).toBe('x-chio-capability-token'); // headers_to_remove = 5
      expect(varint(only(ok, 6), 3)).toBe(2); // response_headers_to_add = 6
      const metadata = only(bytes, 4); // dynamic_metadata = 4
      const entry = only(metadata, 1); // Struct.fields = 1 (map entry)
      expect(text(only(entry, 1))).toBe('chio');
    });

    it('decodes back to the same message', () => {
      const decoded = CheckResponseType.toObject(CheckResponseType.decode(bytes), { longs: String });
      expect(decoded).toEqual(ALLOW);
    });

    it('silently drops google.protobuf.Value members spelled in snake_case', () => {
      const snake = { fields: { chio: { struct_value: { fields: { verdict: { string_value: 'allow' } } } } } };
      const encoded = protos.authorizationService.Check?.responseSerialize({ ...OK_RESPONSE, dynamic_metadata: snake }) as Buffer;
      const entry = only(only(encoded, 4), 1); // dynamic_metadata = 4, Struct.fields = 1
      expect(text(only(entry, 1))).toBe('chio');
      expect(only(entry, 2)).toHaveLength(0); // the Value is empty
    });
  });

  describe('when Chio answers deny', () => {
    const bytes = protos.authorizationService.Check?.responseSerialize(DENY) as Buffer;

    it('puts each field at its upstream number on the wire', () => {
      const status = only(bytes, 1); // CheckResponse.status = 1
      expect(varint(status, 1)).toBe(7); // google.rpc.Status.code = 1
      expect(text(only(status, 2))).toBe('denied'); // message = 2
      expect(sub(bytes, 3)).toHaveLength(0);
      const denied = only(bytes, 2); // denied_response = 2
      expect(varint(only(denied, 1), 1)).toBe(403); // DeniedHttpResponse.status = 1, HttpStatus.code = 1
      expect(varint(only(denied, 2), 3)).toBe(2); // headers = 2, append_action = 3
      expect(text(only(denied, 3))).toBe('{"verdict":"deny"}'); // body = 3
    });

    it('decodes back to the same message', () => {
      const decoded = CheckResponseType.toObject(CheckResponseType.decode(bytes), { longs: String });
      expect(decoded).toEqual(DENY);
    });
  });

  describe('when a gRPC client calls Check over the network', () => {
    it('delivers the captured request and the answer intact', async () => {
      let received: CheckRequest | undefined;
      const server = new grpc.Server();
      server.addService(protos.authorizationService, {
        Check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) => {
          received = call.request;
          callback(null, DENY);
        },
      });
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
      const client = new protos.authorizationClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
      try {
        const request = fromProtoJson(CheckRequestType, FIXTURE) as CheckRequest;
        const response = await new Promise<CheckResponse>((resolve, reject) =>
          client.Check(request, { deadline: Date.now() + 5_000 }, (err, res) => (err ? reject(err) : resolve(res))),
        );
        expect(received?.attributes?.request?.http?.headers).toEqual(request.attributes?.request?.http?.headers);
        expect(received?.attributes?.source?.address?.socket_address?.port_value).toBe(33880);
        expect(response).toMatchObject(DENY);
        expect(response.denied_response?.headers[0]).toMatchObject({ append_action: 2 });
      } finally {
        client.close();
        await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      }
    });
  });

  describe('when checking the trimmed protos against upstream', () => {
    it.each<[string, string, number]>([
      ['envoy.service.auth.v3.CheckRequest', 'attributes', 1],
      ['envoy.service.auth.v3.DeniedHttpResponse', 'status', 1],
      ['envoy.service.auth.v3.DeniedHttpResponse', 'headers', 2],
      ['envoy.service.auth.v3.DeniedHttpResponse', 'body', 3],
      ['envoy.service.auth.v3.OkHttpResponse', 'headers', 2],
      ['envoy.service.auth.v3.OkHttpResponse', 'dynamic_metadata', 3],
      ['envoy.service.auth.v3.OkHttpResponse', 'headers_to_remove', 5],
      ['envoy.service.auth.v3.OkHttpResponse', 'response_headers_to_add', 6],
      ['envoy.service.auth.v3.OkHttpResponse', 'query_parameters_to_set', 7],
      ['envoy.service.auth.v3.OkHttpResponse', 'query_parameters_to_remove', 8],
      ['envoy.service.auth.v3.CheckResponse', 'status', 1],
      ['envoy.service.auth.v3.CheckResponse', 'denied_response', 2],
      ['envoy.service.auth.v3.CheckResponse', 'ok_response', 3],
      ['envoy.service.auth.v3.CheckResponse', 'dynamic_metadata', 4],
      ['envoy.service.auth.v3.AttributeContext', 'source', 1],
      ['envoy.service.auth.v3.AttributeContext', 'destination', 2],
      ['envoy.service.auth.v3.AttributeContext', 'request', 4],
      ['envoy.service.auth.v3.AttributeContext', 'context_extensions', 10],
      ['envoy.service.auth.v3.AttributeContext', 'metadata_context', 11],
      ['envoy.service.auth.v3.AttributeContext', 'tls_session', 12],
      ['envoy.service.auth.v3.AttributeContext', 'route_metadata_context', 13],
      ['envoy.service.auth.v3.AttributeContext.Peer', 'address', 1],
      ['envoy.service.auth.v3.AttributeContext.Peer', 'service', 2],
      ['envoy.service.auth.v3.AttributeContext.Peer', 'labels', 3],
      ['envoy.service.auth.v3.AttributeContext.Peer', 'principal', 4],
      ['envoy.service.auth.v3.AttributeContext.Peer', 'certificate', 5],
      ['envoy.service.auth.v3.AttributeContext.Request', 'time', 1],
      ['envoy.service.auth.v3.AttributeContext.Request', 'http', 2],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'id', 1],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'method', 2],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'headers', 3],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'path', 4],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'host', 5],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'scheme', 6],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'query', 7],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'fragment', 8],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'size', 9],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'protocol', 10],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'body', 11],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'raw_body', 12],
      ['envoy.service.auth.v3.AttributeContext.HttpRequest', 'header_map', 13],
      ['envoy.service.auth.v3.AttributeContext.TLSSession', 'sni', 1],
      ['envoy.config.core.v3.Address', 'socket_address', 1],
      ['envoy.config.core.v3.Address', 'pipe', 2],
      ['envoy.config.core.v3.Address', 'envoy_internal_address', 3],
      ['envoy.config.core.v3.SocketAddress', 'protocol', 1],
      ['envoy.config.core.v3.SocketAddress', 'address', 2],
      ['envoy.config.core.v3.SocketAddress', 'port_value', 3],
      ['envoy.config.core.v3.SocketAddress', 'named_port', 4],
      ['envoy.config.core.v3.HeaderValue', 'key', 1],
      ['envoy.config.core.v3.HeaderValue', 'value', 2],
      ['envoy.config.core.v3.HeaderValue', 'raw_value', 3],
      ['envoy.config.core.v3.HeaderValueOption', 'header', 1],
      ['envoy.config.core.v3.HeaderValueOption', 'append', 2],
      ['envoy.config.core.v3.HeaderValueOption', 'append_action', 3],
      ['envoy.config.core.v3.HeaderValueOption', 'keep_empty_value', 4],
      ['envoy.config.core.v3.HeaderMap', 'headers', 1],
      ['envoy.config.core.v3.Metadata', 'filter_metadata', 1],
      ['envoy.config.core.v3.Metadata', 'typed_filter_metadata', 2],
      ['envoy.type.v3.HttpStatus', 'code', 1],
      ['google.rpc.Status', 'code', 1],
      ['google.rpc.Status', 'message', 2],
      ['google.rpc.Status', 'details', 3],
      ['grpc.health.v1.HealthCheckRequest', 'service', 1],
      ['grpc.health.v1.HealthCheckResponse', 'status', 1],
    ])('%s.%s = %i', (message, field, number) => {
      expect(root.lookupType(message).fields[field]?.id).toBe(number);
    });

    it('keeps the oneofs', () => {
      expect(CheckResponseType.oneofs.http_response?.fieldsArray.map((f) => f.name)).toEqual(['denied_response', 'ok_response']);
      expect(root.lookupType('envoy.config.core.v3.Address').oneofs.address?.fieldsArray.map((f) => f.id)).toEqual([1, 2, 3]);
      expect(root.lookupType('envoy.config.core.v3.SocketAddress').oneofs.port_specifier?.fieldsArray.map((f) => f.name)).toEqual([
        'port_value',
        'named_port',
      ]);
    });

    it('keeps the enum values', () => {
      expect(root.lookupEnum('envoy.config.core.v3.HeaderValueOption.HeaderAppendAction').values).toEqual({
        APPEND_IF_EXISTS_OR_ADD: 0,
        ADD_IF_ABSENT: 1,
        OVERWRITE_IF_EXISTS_OR_ADD: 2,
        OVERWRITE_IF_EXISTS: 3,
      });
      expect(root.lookupEnum('grpc.health.v1.HealthCheckResponse.ServingStatus').values).toEqual({
        UNKNOWN: 0,
        SERVING: 1,
        NOT_SERVING: 2,
        SERVICE_UNKNOWN: 3,
      });
      const status = root.lookupEnum('envoy.type.v3.StatusCode').values;
      expect([status.Empty, status.OK, status.Unauthorized, status.Forbidden, status.ServiceUnavailable]).toEqual([0, 200, 401, 403, 503]);
      expect(Object.keys(status)).toHaveLength(57);
    });
  });
});
