import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_POLICY_FILES, listPolicyFiles, loadPolicySet, loadPolicySetFiles } from '../../../src/policy/policy-set.js';
import { generateKeys } from '../../../src/keys.js';
import { ChioError } from '../../../src/errors/index.js';
import { signerSecret } from '../../support/secrets.js';
import { SMALL_ORDER_POINTS } from '../../support/small-order-keys.js';
import { newEd25519VerifierKey } from '../../../src/tlog/index.js';

const A = `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: a }
spec:
  rules:
    - to: [{ operation: { methods: [GET], paths: ["/a/*"] } }]
`;
const B = `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: b }
spec:
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/admin*"] } }]
`;

function dirWith(files: Record<string, string>): { dir: string; keyDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'chio-ps-'));
  const dir = join(root, 'policies');
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const keyDir = join(root, 'keys');
  generateKeys(keyDir, 'chio.local/receipts');
  return { dir, keyDir };
}

const hashOf = (files: Record<string, string>) => {
  const { dir, keyDir } = dirWith(files);
  return loadPolicySet(dir, keyDir).hash;
};

describe('loadPolicySet', () => {
  describe('the policy hash', () => {
    const base = hashOf({ 'p.yaml': `${A}---\n${B}` });

    it('is sha256:<64 hex>', () => {
      expect(base).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it.each([
      ['documents in another order', { 'p.yaml': `${B}---\n${A}` }],
      ['split over two files', { '1.yaml': A, '2.yml': B }],
      ['other file names', { 'zz.yaml': B, 'aa.yaml': A }],
      ['comments and another YAML layout', { 'p.yaml': `# a comment\n${A.replace('{ name: a }', '\n  name: a')}---\n${B}` }],
      ['a default written out (action: ALLOW)', { 'p.yaml': `${A.replace('spec:\n', 'spec:\n  action: ALLOW\n')}---\n${B}` }],
    ])('does not change with %s', (_what, files) => {
      expect(hashOf(files)).toBe(base);
    });

    it.each([
      ['a path', { 'p.yaml': `${A.replace('/a/*', '/b/*')}---\n${B}` }],
      ['an action', { 'p.yaml': `${A}---\n${B.replace('DENY', 'AUDIT')}` }],
      ['a policy removed', { 'p.yaml': A }],
    ])('changes with %s', (_what, files) => {
      expect(hashOf(files)).not.toBe(base);
    });
  });

  it('orders documents by namespace, then name, also where one namespace begins another', () => {
    // As one string `a-b/x` sorts before `a/x` ('-' < '/'): the order must compare the parts.
    const named = (namespace: string, name: string) => A.replace('{ name: a }', `{ name: ${name}, namespace: ${namespace} }`);
    const { dir, keyDir } = dirWith({ 'p.yaml': [named('a-b', 'x'), named('a', 'y'), named('a', 'x'), named('b', 'a')].join('---\n') });
    const set = loadPolicySet(dir, keyDir);
    const order = (JSON.parse(Buffer.from(set.canonical).toString('utf8')) as { doc: { metadata: { namespace: string; name: string } } }[]).map((d) => `${d.doc.metadata.namespace}/${d.doc.metadata.name}`);
    expect(order).toEqual(['a/x', 'a/y', 'a-b/x', 'b/a']);
  });

  it('changes when the keys in a jwksFile change (key rotation is a policy change)', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const jwk = async () => ({ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' });
    const ra = 'apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: iss, jwksFile: keys.json }] }\n';
    const { dir, keyDir } = dirWith({ 'ra.yaml': ra, 'keys.json': JSON.stringify({ keys: [await jwk()] }) });
    const before = loadPolicySet(dir, keyDir).hash;
    writeFileSync(join(dir, 'keys.json'), JSON.stringify({ keys: [await jwk()] }));
    expect(loadPolicySet(dir, keyDir).hash).not.toBe(before);
  });

  it('refuses an inline jwks that holds private key material: the set is archived and served to anyone', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const secret = { ...(await exportJWK(privateKey)), kid: 'signing' };
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'public' }, secret] });
    const ra = `apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: iss, jwks: ${JSON.stringify(jwks)} }] }\n`;
    const { dir, keyDir } = dirWith({ 'ra.yaml': ra });
    let caught: unknown;
    try {
      // Loaded, the set's canonical bytes (what the verifier serves under its hash) held `d`.
      const set = loadPolicySet(dir, keyDir);
      expect(Buffer.from(set.canonical).toString('utf8')).not.toContain(secret.d);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ChioError);
    expect((caught as ChioError).code).toBe('CONFIG_INVALID');
    expect((caught as Error).message).toContain('field spec.jwtRules.0.jwks: a key holds private key material');
    expect((caught as Error).message).not.toContain(secret.d);
  });

  it('reads a Kubernetes ConfigMap volume as one version: files listed before an update are read from the version they were listed in', () => {
    // The kubelet's layout: each file a link into ..data, ..data a link to the version's directory.
    const { dir, keyDir } = dirWith({});
    const version = (name: string, files: Record<string, string>) => {
      mkdirSync(join(dir, name));
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, name, file), text);
    };
    version('..2026_12_01_18_00_00.1', { 'a.yaml': A, 'b.yaml': B });
    symlinkSync('..2026_12_01_18_00_00.1', join(dir, '..data'));
    for (const file of ['a.yaml', 'b.yaml']) symlinkSync(join('..data', file), join(dir, file));
    const v1 = loadPolicySet(dir, keyDir).hash;

    const listed = listPolicyFiles(dir);
    // An update lands while the set is being read: ..data now names another version, at once.
    version('..2026_12_01_18_05_00.2', { 'a.yaml': A.replace('/a/*', '/b/*'), 'b.yaml': B.replace('DENY', 'AUDIT') });
    symlinkSync('..2026_12_01_18_05_00.2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(loadPolicySetFiles(listed, keyDir).hash, 'every file from the version listed').toBe(v1);
    expect(loadPolicySet(dir, keyDir).hash, 'the next load reads the new version').not.toBe(v1);
  });

  it('resolves a relative jwksFile from a ConfigMap volume as it did before, from the mounted directory, not from the version directory under it', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const keys = JSON.stringify({ keys: [{ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' }] });
    // The policies from a ConfigMap at <root>/policies, the JWKS from a Secret beside it at <root>/jwks.
    const ra = 'apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: iss, jwksFile: ../jwks/keys.json }] }\n';
    const { dir, keyDir } = dirWith({});
    mkdirSync(join(dir, '..', 'jwks'));
    writeFileSync(join(dir, '..', 'jwks', 'keys.json'), keys);
    const plain = dirWith({ 'ra.yaml': ra });
    mkdirSync(join(plain.dir, '..', 'jwks'));
    writeFileSync(join(plain.dir, '..', 'jwks', 'keys.json'), keys);
    const expected = loadPolicySet(plain.dir, plain.keyDir).hash;
    mkdirSync(join(dir, '..2026_12_01_18_00_00.1'));
    writeFileSync(join(dir, '..2026_12_01_18_00_00.1', 'ra.yaml'), ra);
    symlinkSync('..2026_12_01_18_00_00.1', join(dir, '..data'));
    symlinkSync(join('..data', 'ra.yaml'), join(dir, 'ra.yaml'));
    expect(loadPolicySet(dir, keyDir).hash).toBe(expected);
  });

  it('reads a jwksFile beside the policies of a ConfigMap volume from the version the policies are read from', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const keys = async () => JSON.stringify({ keys: [{ ...(await exportJWK((await generateKeyPair('ES256')).publicKey)), kid: 'k' }] });
    const ra = 'apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: ra }\nspec: { jwtRules: [{ issuer: iss, jwksFile: keys.json }] }\n';
    const { dir, keyDir } = dirWith({});
    const version = async (name: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'ra.yaml'), ra);
      writeFileSync(join(dir, name, 'keys.json'), await keys());
    };
    await version('..2026_12_01_18_00_00.1');
    symlinkSync('..2026_12_01_18_00_00.1', join(dir, '..data'));
    for (const file of ['ra.yaml', 'keys.json']) symlinkSync(join('..data', file), join(dir, file));
    const v1 = loadPolicySet(dir, keyDir).hash;
    const listed = listPolicyFiles(dir);
    await version('..2026_12_01_18_05_00.2');
    symlinkSync('..2026_12_01_18_05_00.2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(loadPolicySetFiles(listed, keyDir).hash).toBe(v1);
    expect(loadPolicySet(dir, keyDir).hash).not.toBe(v1);
  });

  it('names a ConfigMap volume\'s file once when it is given both in its directory and on its own (policy check a dir and a file of it)', () => {
    const { dir } = dirWith({});
    mkdirSync(join(dir, '..2026_12_01_18_00_00.1'));
    writeFileSync(join(dir, '..2026_12_01_18_00_00.1', 'a.yaml'), A);
    symlinkSync('..2026_12_01_18_00_00.1', join(dir, '..data'));
    symlinkSync(join('..data', 'a.yaml'), join(dir, 'a.yaml'));
    // What `chio policy check <dir> <dir>/a.yaml` and a policy test's `policies` list do to make one set.
    const files = [...new Set([dir, join(dir, 'a.yaml')].flatMap((path) => listPolicyFiles(path)))];
    expect(files).toHaveLength(1);
  });

  it('refuses a set larger than its archive can hold: receipts would name a hash no one could read back', () => {
    const { dir, keyDir } = dirWith({ 'p.yaml': `${A}---\n${B}` });
    const size = loadPolicySet(dir, keyDir).canonical.length;
    expect(loadPolicySet(dir, keyDir, { maxSetBytes: size }).canonical.length).toBe(size);
    expect(() => loadPolicySet(dir, keyDir, { maxSetBytes: size - 1 })).toThrow(`the policy set is ${size} bytes once normalised, over the ${size - 1}`);
  });

  it('refuses a directory of more than MAX_POLICY_FILES files before reading them', () => {
    const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${String(i).padStart(4, '0')}.yaml`, A.replace('name: a', `name: a${i}`)]));
    const { dir, keyDir } = dirWith(many(MAX_POLICY_FILES));
    expect(loadPolicySet(dir, keyDir).documents).toBe(MAX_POLICY_FILES);
    writeFileSync(join(dir, 'one-more.yaml'), B);
    expect(() => loadPolicySet(dir, keyDir)).toThrow(`CHIO_POLICIES: ${MAX_POLICY_FILES + 1} .yaml files in ${dir}, over the ${MAX_POLICY_FILES} a set may have`);
    expect(() => loadPolicySetFiles(listPolicyFiles(dir).concat(join(dir, 'one-more.yaml')), keyDir)).toThrow(`over the ${MAX_POLICY_FILES} a set may have`);
  });

  it('bounds the files of a set together by what the set may hold, before parsing more of them', () => {
    // Comments count: the files are bounded as read, not as normalised.
    const padded = `${A}#${'x'.repeat(4000)}\n`;
    const { dir, keyDir } = dirWith({ 'a.yaml': padded, 'b.yaml': B });
    const size = loadPolicySet(dir, keyDir).canonical.length;
    expect(size).toBeLessThan(4000);
    const bytes = Buffer.byteLength(padded) + Buffer.byteLength(B);
    expect(loadPolicySet(dir, keyDir, { maxSetBytes: bytes }).canonical.length).toBe(size);
    expect(() => loadPolicySet(dir, keyDir, { maxSetBytes: bytes - 1 })).toThrow(`the policy files up to ${join(dir, 'b.yaml')} hold more than the ${bytes - 1} bytes a set may have`);
    expect(() => loadPolicySet(dir, keyDir, { maxSetBytes: 4000 })).toThrow(`the policy files up to ${join(dir, 'a.yaml')} hold more than the 4000 bytes`);
  });

  describe('when a document is wrong', () => {
    it.each([
      ['an unknown kind', 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n', 'document 1: field kind'],
      ['a kind named like an Object method', 'apiVersion: v1\nkind: toString\nmetadata: { name: x }\n', 'document 1: field kind: "toString" is not one of'],
      ['a kind named __proto__', 'apiVersion: v1\nkind: __proto__\nmetadata: { name: x }\n', 'document 1: field kind: "__proto__" is not one of'],
      ['an unknown field', A.replace('methods', 'method'), 'document 1: field spec.rules.0.to.0.operation'],
      ['a bad action', A.replace('spec:\n', 'spec:\n  action: MAYBE\n'), 'document 1: field spec.action'],
      ['a bad CIDR', `${B}---\n${A.replace('to:', 'from: [{ source: { ipBlocks: ["1.2.3.4/99"] } }]\n      to:')}`, 'document 2: field spec.rules.0.from.0.source.ipBlocks'],
      ['a duplicate name', `${A}---\n${A}`, 'defined twice'],
      // Found in one pass (yaml-documents.ts), not by the library's pairwise check.
      ['a key twice in a mapping', A.replace('metadata: { name: a }', 'metadata:\n  name: a\n  name: b'), 'document 1: Map keys must be unique ("name" is there twice)'],
      ['a key twice in a later document', `${B}---\n${A.replace('spec:\n', 'spec:\n  action: ALLOW\n  action: DENY\n')}`, 'document 2: Map keys must be unique ("action" is there twice)'],
      // Ignored, the shadow annotation left a policy meant to be tried out enforced.
      ['a shadow annotation spelt otherwise', A.replace('metadata: { name: a }', 'metadata: { name: a, annotations: { chio.dev/shadow: "True" } }'), 'document 1: field metadata.annotations.chio.dev/shadow: "True" is not "true" or "false"'],
      ['a shadow annotation on another kind', 'apiVersion: chio.dev/v1\nkind: RequestAuthentication\nmetadata: { name: r, annotations: { chio.dev/shadow: "true" } }\nspec: { jwtRules: [{ issuer: "https://i.example", jwksUri: "https://i.example/jwks" }] }\n', 'document 1: field metadata.annotations.chio.dev/shadow: only an AuthorizationPolicy can be put in shadow mode; this RequestAuthentication would be enforced'],
      ['YAML that does not parse', 'kind: [', 'document 1'],
      ['an untrusted issuer key', 'apiVersion: chio.dev/v1\nkind: CapabilityAuthority\nmetadata: { name: c }\nspec: { issuers: ["nope"] }\n', 'field spec.issuers'],
      // Under it anyone mints tokens: node:crypto takes R = the identity, S = 0 for every claims.
      ['an issuer key no one holds (the identity point)', `apiVersion: chio.dev/v1\nkind: CapabilityAuthority\nmetadata: { name: c }\nspec: { issuers: ["${newEd25519VerifierKey('partner', SMALL_ORDER_POINTS[0]!)}"] }\n`, 'field spec.issuers.0: not a key anyone holds the secret of'],
      // kyverno-json reads the field "(http.method) " here and denies; Chio read the expression.
      ['a kyverno-json key its Go reads otherwise', 'apiVersion: json.kyverno.io/v1alpha1\nkind: ValidatingPolicy\nmetadata: { name: v }\nspec:\n  rules:\n    - name: r\n      assert:\n        all:\n          - check: { request: { "(http.method) -> m": GET } }\n', 'document 1: ValidatingPolicy v: spec.rules[0].assert.all[0].check: request.(http.method) -> m: whitespace before ->'],
      // go-jmespath's three-argument replace is Kyverno's four-argument one in kyverno-json.
      ['a call kyverno-json refuses for its arity', 'apiVersion: json.kyverno.io/v1alpha1\nkind: ValidatingPolicy\nmetadata: { name: v }\nspec:\n  rules:\n    - name: r\n      assert:\n        all:\n          - check: { request: { "(replace(http.path, \'/./\', \'/\'))": /a } }\n', "document 1: ValidatingPolicy v: spec.rules[0].assert.all[0].check: request.(replace(http.path, '/./', '/')): replace() takes 4 arguments in kyverno-json, not 3"],
      ['a billion laughs', 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n', 'document 1'],
    ])('refuses %s, naming file, document and field', (_what, text, where) => {
      const { dir, keyDir } = dirWith({ 'bad.yaml': text });
      expect(() => loadPolicySet(dir, keyDir)).toThrow(ChioError);
      expect(() => loadPolicySet(dir, keyDir)).toThrow(/bad\.yaml/);
      expect(() => loadPolicySet(dir, keyDir)).toThrow(where);
    });

    // The parser's message went on with the lines it points at: printed escaped, one line
    // (`at line 6, column 1:\u{a}\u{a}spec:\u{a}\u{9}action…`), unreadable, and quoting the file.
    it.each([
      ['a tab as indentation', A.replace('spec:\n  rules:', 'spec:\n\trules:'), 'Tabs are not allowed as indentation at line 5, column 1'],
      ['a flow list left open', A.replace('paths: ["/a/*"] } }]', 'paths: ["/a/*"] } }'), 'at line 7, column 1'],
      ['a key twice', A.replace('metadata: { name: a }', 'metadata:\n  name: a\n  name: b'), 'Map keys must be unique ("name" is there twice) at line 5, column 3'],
    ])('tells YAML that does not parse (%s) in one line, what and where, without quoting the file', (_what, text, why) => {
      const { dir, keyDir } = dirWith({ 'bad.yaml': text });
      let message = '';
      try {
        loadPolicySet(dir, keyDir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(new RegExp(`bad\\.yaml document 1: .*${why.replace(/[()[\]]/g, '\\$&')}$`));
      expect(message).not.toContain('\n');
      expect(message).not.toContain('/a/*');
    });

    it('never puts what an issuerKeyFiles file holds in its error (a policy naming a private key must not log it)', () => {
      const { dir, keyDir } = dirWith({ 'ca.yaml': 'apiVersion: chio.dev/v1\nkind: CapabilityAuthority\nmetadata: { name: c }\nspec: { issuerKeyFiles: ["kernel.key"] }\n' });
      const secret = signerSecret(readFileSync(join(keyDir, 'kernel.key'), 'utf8'));
      let message = '';
      try {
        loadPolicySet(dir, keyDir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/field spec\.issuerKeyFiles: .*kernel\.key does not hold a verifier key/);
      expect(message).not.toContain('PRIVATE');
      expect(message).not.toContain(secret.slice(0, 16));
    });

    it('never quotes a signer key pasted into spec.issuers in its error (the message goes to the log and stderr)', () => {
      const root = mkdtempSync(join(tmpdir(), 'chio-ps-keys-'));
      generateKeys(root, 'chio.local/receipts');
      const signerKey = readFileSync(join(root, 'demo-issuer.key'), 'utf8').trim();
      const { dir, keyDir } = dirWith({ 'ca.yaml': `apiVersion: chio.dev/v1\nkind: CapabilityAuthority\nmetadata: { name: c }\nspec: { issuers: [${JSON.stringify(signerKey)}] }\n` });
      let message = '';
      try {
        loadPolicySet(dir, keyDir);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/field spec\.issuers(\.0)?: .*not a verifier key/);
      expect(message).not.toContain('PRIVATE');
      expect(message).not.toContain(signerSecret(signerKey).slice(0, 16));
    });

    it('refuses a document that its aliases blow up past the file bound (one scalar aliased 99 times), quickly', () => {
      const aliases = Array.from({ length: 99 }, (_, i) => `    l${i}: *big`).join('\n');
      const text = A.replace('metadata: { name: a }', `metadata:\n  name: a\n  labels:\n    big: &big "${'x'.repeat(900_000)}"\n${aliases}`);
      const { dir, keyDir } = dirWith({ 'bomb.yaml': text });
      const started = Date.now();
      expect(() => loadPolicySet(dir, keyDir)).toThrow(/bomb\.yaml document 1: larger than 1048576 bytes once its aliases are expanded/);
      // Some hundreds of milliseconds alone; generous, for a loaded machine (it failed at 1.6 s).
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('refuses a file that is not UTF-8 (a policy with U+FFFD where its bytes were would match nothing)', () => {
      const { dir, keyDir } = dirWith({});
      writeFileSync(join(dir, 'latin1.yaml'), Buffer.concat([Buffer.from(B.replace('/admin*', '/caf')), Buffer.from([0xe9])]));
      expect(() => loadPolicySet(dir, keyDir)).toThrow(/latin1\.yaml: not UTF-8/);
    });

    // In a child process: a read that blocks (a FIFO) or never ends (/dev/zero) would hang this
    // worker; a reload runs on the event loop every Check needs. The child's bound is generous:
    // most of its time is tsx compiling the policy modules, which on a loaded machine took 11 s,
    // while the read it guards against would never end.
    const loadInChild = (dir: string, keyDir: string) => {
      const module = JSON.stringify(join(import.meta.dirname, '../../../src/policy/policy-set.ts'));
      const script = `import(${module}).then((m) => { try { m.loadPolicySet(${JSON.stringify(dir)}, ${JSON.stringify(keyDir)}); console.log('loaded'); } catch (e) { console.log(e.message); } })`;
      return spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    };

    it.each([
      ['a FIFO', (path: string) => spawnSync('mkfifo', [path])],
      ['a link to /dev/zero', (path: string) => symlinkSync('/dev/zero', path)],
      ['a directory', (path: string) => mkdirSync(path)],
    ])('refuses %s named like a policy file, at once', (_what, make) => {
      const { dir, keyDir } = dirWith({ 'a.yaml': A });
      make(join(dir, 'b.yaml'));
      const child = loadInChild(dir, keyDir);
      expect(child.signal).toBeNull();
      expect(child.stdout).toMatch(/b\.yaml: not a regular file/);
    }, 90_000);

    it('refuses a directory without policy files', () => {
      const { dir, keyDir } = dirWith({ 'readme.txt': 'x' });
      expect(() => loadPolicySet(dir, keyDir)).toThrow('no .yaml files');
    });
  });

  it('loads the shipped demo policy set', () => {
    const { keyDir } = dirWith({});
    const set = loadPolicySet(join(import.meta.dirname, '../../../deploy/policies'), keyDir);
    expect(set.authorization.map((p) => p.name)).toEqual(['tools-with-capability']);
    expect(set.documents).toBe(2);
  });
});
