/**
 * The Envoy ext_authz v3 messages as @grpc/proto-loader hands them to us (keepCase: field
 * names as in the .proto files under proto/). Only the fields Chio reads or writes; every
 * field of an incoming request may be missing or hostile.
 */

export interface SocketAddress {
  address?: string;
  port_value?: number;
}

export interface Peer {
  address?: { socket_address?: SocketAddress | null } | null;
  service?: string;
  principal?: string;
  certificate?: string;
  labels?: Record<string, string>;
}

export interface HeaderValue {
  key?: string;
  value?: string;
  raw_value?: Uint8Array;
}

export interface HttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  header_map?: { headers?: HeaderValue[] } | null;
  path?: string;
  host?: string;
  scheme?: string;
  query?: string;
  fragment?: string;
  size?: string | number;
  protocol?: string;
  body?: string;
  raw_body?: Uint8Array;
}

export interface CheckRequest {
  attributes?: {
    source?: Peer | null;
    destination?: Peer | null;
    request?: { time?: unknown; http?: HttpRequest | null } | null;
    context_extensions?: Record<string, string>;
  } | null;
}

/** envoy.config.core.v3.HeaderValueOption.HeaderAppendAction */
export const OVERWRITE_IF_EXISTS_OR_ADD = 2;

export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action: number;
  keep_empty_value?: boolean;
}

/** google.protobuf.Value in object form. protobufjs always uses its built-in struct.proto, whose members are camelCase even with keepCase. */
export type StructValue =
  | { stringValue: string }
  | { numberValue: number }
  | { boolValue: boolean }
  | { nullValue: 0 }
  | { structValue: ProtoStruct }
  | { listValue: { values: StructValue[] } };

export interface ProtoStruct {
  fields: Record<string, StructValue>;
}

export interface CheckResponse {
  status: { code: number; message?: string };
  ok_response?: {
    headers: HeaderValueOption[];
    headers_to_remove: string[];
    response_headers_to_add: HeaderValueOption[];
    query_parameters_to_set?: Array<{ key: string; value: string }>;
    query_parameters_to_remove?: string[];
  };
  denied_response?: {
    status: { code: number };
    headers: HeaderValueOption[];
    body: string;
  };
  dynamic_metadata?: ProtoStruct;
}
