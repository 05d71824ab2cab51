/**
 * What `chio check` prints of an answer (summarise, formatCheckAnswer): every change an allow
 * makes — request headers added and removed, response headers, query parameters set and
 * removed — in the text and in --json (the CheckAnswer as it is).
 */
import { describe, expect, it } from 'vitest';
import { formatCheckAnswer, summarise } from '../../../src/cli/check.js';
import type { CheckResponse } from '../../../src/authz/wire.js';

const header = (key: string, value: string) => ({ header: { key, value } });

const ALLOW: CheckResponse = {
  status: { code: 0 },
  ok_response: {
    headers: [header('x-chio-receipt-id', 'r-1'), header('x-tenant-checked', 'blue')],
    headers_to_remove: ['x-force-authorized'],
    response_headers_to_add: [header('x-note', 'checked')],
    query_parameters_to_set: [{ key: 'tenant', value: 'blue' }, { key: 'via', value: 'gateway' }],
    query_parameters_to_remove: ['debug'],
  },
} as CheckResponse;

describe('summarise', () => {
  it('keeps the query parameters an allow sets and removes, for --json', () => {
    expect(summarise(ALLOW)).toMatchObject({
      verdict: 'allow',
      queryParametersToSet: { tenant: 'blue', via: 'gateway' },
      queryParametersToRemove: ['debug'],
    });
  });
  it('has none on an allow that changes no query parameter, nor on a deny', () => {
    const plain = summarise({ status: { code: 0 }, ok_response: {} } as CheckResponse);
    expect(plain).not.toHaveProperty('queryParametersToSet');
    expect(plain).not.toHaveProperty('queryParametersToRemove');
    expect(summarise({ status: { code: 7 }, denied_response: { status: { code: 403 } } } as CheckResponse)).not.toHaveProperty('queryParametersToSet');
  });
});

describe('formatCheckAnswer', () => {
  it('prints every change of an allow, each on its line', () => {
    expect(formatCheckAnswer(summarise(ALLOW)).split('\n')).toEqual([
      'ALLOW (grpc 0, http 200)',
      '  x-chio-receipt-id: r-1',
      '  x-tenant-checked: blue',
      '  - request header x-force-authorized',
      '  + response header x-note: checked',
      '  + query parameter tenant=blue',
      '  + query parameter via=gateway',
      '  - query parameter debug',
      'receipt id: r-1',
    ]);
  });
});
