/**
 * What docs/api.md says a client is told is what the code tells it: the two status tables (Error
 * codes, Other error codes) give every code of the status table its guard, HTTP and gRPC status,
 * fixed reason and exit status; every JWT reason is listed under its code; every
 * REQUEST_MALFORMED reason of the headers, fields, method and host rows is one the code sends,
 * and the code sends none that is not listed (the path row: docs-normalization.test.ts); every
 * `<status> {"error":…,"code":…}` the page quotes is an answer the HTTP code makes.
 */
import { describe, expect, it } from 'vitest';
import { NO_SUCH_ROUTE, STATUS } from '../../../src/errors/status.js';
import type { ChioErrorCode } from '../../../src/errors/index.js';
import { JWT_REASONS, jwtCodeOf } from '../../../src/credentials/jwt-rules.js';
import { toCheckInput } from '../../../src/decision/check-input.js';
import type { CheckRequest } from '../../../src/authz/wire.js';
import { firstTable, read, section, tableUnder, ticked } from './doc-text.js';

const codes = Object.keys(STATUS) as ChioErrorCode[];

describe('docs/api.md, Error codes', () => {
  let guard = '';
  const rows = new Map(tableUnder('docs/api.md', 'Error codes', 3).map(([g, code, http, grpc, reason]) => {
    guard = g === '' ? guard : g!.replace(/`/g, '');
    return [code!.replace(/`/g, ''), { guard, http: Number(http), grpc: Number(grpc), reason: reason! }];
  }));

  it('gives each Check denial its guard, HTTP and gRPC status, and the fixed reason sent', () => {
    const denials = codes.filter((c) => STATUS[c].guard !== undefined);
    expect([...rows.keys()].sort()).toEqual(denials.sort());
    const problems: string[] = [];
    for (const code of denials) {
      const row = rows.get(code)!;
      const { guard: g, http, grpc, reason } = STATUS[code];
      if (row.guard !== g || row.http !== http || row.grpc !== grpc) problems.push(`${code}: docs ${row.guard} ${row.http} ${row.grpc}, code ${g} ${http} ${grpc}`);
      if (reason !== undefined && ticked(row.reason)[0] !== reason) problems.push(`${code}: docs reason ${row.reason}, code ${reason}`);
    }
    expect(problems).toEqual([]);
  });

  it("lists each JWT reason under its code (JWT_MALFORMED's in the list below the table)", () => {
    const malformed = section('docs/api.md', 'Error codes', 3).split('`JWT_MALFORMED` reasons:')[1]!.replace(/\s*\n\s*/g, ' ');
    const problems: string[] = [];
    for (const reason of Object.values(JWT_REASONS)) {
      const code = jwtCodeOf(reason);
      const listed = code === 'JWT_MALFORMED' ? ticked(malformed) : ticked(rows.get(code)?.reason ?? '');
      if (!listed.includes(reason)) problems.push(`${code}: ${reason}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('docs/api.md, Other error codes', () => {
  const rows = tableUnder('docs/api.md', 'Other error codes', 3).flatMap(([cell, http, exit]) => ticked(cell!).map((code) => ({ code, http: Number(http), exit: Number(exit) })));

  it('gives every code that is not a Check denial its HTTP status and exit status', () => {
    expect(rows.map((r) => r.code).sort()).toEqual(codes.filter((c) => STATUS[c].guard === undefined).sort());
    const problems = rows.filter(({ code, http, exit }) => STATUS[code as ChioErrorCode].http !== http || STATUS[code as ChioErrorCode].exit !== exit);
    expect(problems).toEqual([]);
  });
});

describe('docs/api.md, REQUEST_MALFORMED reasons', () => {
  const errorCodes = section('docs/api.md', 'Error codes', 3);
  const list = errorCodes.slice(errorCodes.indexOf('`REQUEST_MALFORMED` reasons, word for word:'));
  const reasons = new Map(firstTable(list).map(([what, cell]) => [what!, cell!]));

  /** The reason toCheckInput refuses `http` (and `attributes`) with. */
  const reasonFor = (http: Record<string, unknown>, attributes: Record<string, unknown> = {}): string => {
    try {
      toCheckInput({ attributes: { request: { http: { path: '/', ...http } }, ...attributes } } as CheckRequest);
      return 'taken';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('states each field bound as the code refuses it', () => {
    const fields = [...reasons.get('fields')!.matchAll(/`([a-z ]+)` \((\d+)\)/g)].map((m) => ({ field: m[1]!, max: Number(m[2]) }));
    expect(fields.length).toBe(7);
    const sent = (field: string, value: string): string => {
      switch (field) {
        case 'path': return reasonFor({ path: `/${value.slice(1)}` });
        case 'host': return reasonFor({ host: value });
        case 'method': return reasonFor({ method: value.toUpperCase() });
        case 'request id': return reasonFor({ id: value });
        case 'protocol': return reasonFor({ protocol: value });
        case 'source principal': return reasonFor({}, { source: { principal: value } });
        case 'socket address': return reasonFor({}, { source: { address: { socket_address: { address: value, port_value: 1 } } } });
        default: return `no such field ${field}`;
      }
    };
    const problems: string[] = [];
    for (const { field, max } of fields) {
      const over = `${field} longer than ${max} bytes`;
      if (sent(field, 'a'.repeat(max + 1)) !== over) problems.push(`${field}: ${max + 1} characters gave ${sent(field, 'a'.repeat(max + 1))}`);
      if (sent(field, 'a'.repeat(max)) === over) problems.push(`${field}: ${max} characters refused as longer`);
    }
    expect(problems).toEqual([]);
  });

  it('lists the header reasons the code sends', () => {
    const listed = ticked(reasons.get('headers')!);
    const many = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`x-h${i}`, 'v']));
    const sent = [
      reasonFor({ headers: many }),
      reasonFor({ headers: { 'x-big': 'v'.repeat(200_000) } }),
      reasonFor({ headers: { 'x-a': 'a\u0001b' } }),
      reasonFor({ headers: { 'x(a)': 'v' } }),
      reasonFor({ headers: { 'x-a': '\uFFFD' } }),
    ];
    expect(sent.filter((r) => !listed.includes(r))).toEqual([]);
  });

  it('lists the method reason and every host reason the code sends, and no other', () => {
    expect(ticked(reasons.get('method')!)).toContain(reasonFor({ method: 'get' }));
    const source = read('src/decision/host.ts');
    const sent = [...source.matchAll(/refuse\('([^']+)'\)/g)].map((m) => `host ${m[1]}`);
    expect(sent.length).toBeGreaterThan(5);
    expect(ticked(reasons.get('host')!).sort()).toEqual([...new Set(sent)].sort());
  });
});

describe('docs/api.md, the verifier\'s error answers', () => {
  /** Every message an HTTP answer is made with in src/: sendError(res, 'CODE', text) and the receipt routes' refuse(…, 'CODE', text). */
  const sent = ['src/http.ts', 'src/verifier/api.ts', 'src/verifier/receipt-routes.ts', 'src/verifier/policy-route.ts', 'src/verifier/verify-route.ts']
    .flatMap((file) => [...read(file).matchAll(/(?:sendError\(res|refuse\('\w+'), '([A-Z_]+)', (?:'((?:[^'\\]|\\.)*)'|`([^`]*)`)/g)])
    .map((m) => ({ code: m[1]!, text: m[2] ?? m[3]! }))
    // Every port's 404 for a path it has no route for, sent by name (chio prove knows it too).
    .concat({ code: 'NOT_FOUND', text: NO_SUCH_ROUTE });
  const answers = [...read('docs/api.md').replace(/\s*\n\s*/g, ' ').matchAll(/(\d{3})\D{0,8}\{"error":\s*"([^"]+)",\s*"code":\s*"([A-Z_]+)"\}/g)]
    .map((m) => ({ status: Number(m[1]), text: m[2]!, code: m[3]! }));

  it('finds the messages the code answers with', () => {
    expect(sent.length).toBeGreaterThan(10);
    expect(answers.length).toBeGreaterThan(10);
  });

  it('quotes each error answer as the code makes it, with its code and that code\'s HTTP status', () => {
    // A template's ${…} stands for any text; the doc's … and example numbers fill it.
    const pattern = (text: string) => new RegExp(`^${text.replace(/\\'/g, "'").split(/\$\{[^}]*\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+')}$`);
    const problems = answers.filter(({ status, text, code }) => status !== STATUS[code as ChioErrorCode]?.http || !sent.some((s) => s.code === code && pattern(s.text).test(text)));
    expect(problems).toEqual([]);
  });
});
