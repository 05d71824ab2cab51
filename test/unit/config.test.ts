import { describe, expect, it } from 'vitest';
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { ChioError } from '../../src/errors/index.js';

describe('loadConfig', () => {
  it('has the SPEC defaults', () => {
    const c = loadConfig({ env: {}, defaultBind: '127.0.0.1' });
    expect(c).toMatchObject({ grpcPort: 9091, httpPort: 9090, ledgerPort: 9092, verifierPort: 9093, receiptTimeoutMs: 150, mode: 'enforce', defaultVerdict: 'deny', logOrigin: 'chio.local/receipts', checkpointIntervalMs: 1000, replicas: 1, lanes: 4, bind: '127.0.0.1' });
    expect(c.keyDir).toMatch(/\.chio\/keys$/);
  });

  describe('when a value is bad', () => {
    it.each([
      ['CHIO_GRPC_PORT', 'abc'], ['CHIO_GRPC_PORT', '70000'], ['CHIO_MODE', 'audit'], ['CHIO_REPLICAS', '2'],
      ['CHIO_RECEIPT_TIMEOUT_MS', '0'], ['CHIO_CHAIN_ID', 'a.b'], ['CHIO_LOG_ORIGIN', 'has space'],
      // A lane adds -<n> to the chain id, which must stay a subject token of at most 64.
      ['CHIO_CHAIN_ID', 'c'.repeat(61)], ['CHIO_LANES', '0'], ['CHIO_LANES', '65'], ['CHIO_LANES', '1.5'],
      ['CHIO_AUTHZ_WORKERS', '0'], ['CHIO_AUTHZ_WORKERS', '17'], ['CHIO_AUTHZ_WORKERS', 'two'],
    ])('%s=%j stops with a message naming the setting', (name, value) => {
      expect(() => loadConfig({ env: { [name]: value } })).toThrow(ChioError);
      expect(() => loadConfig({ env: { [name]: value } })).toThrow(name);
    });
  });

  it.each([['CHIO_GRPC_PORT', '-1'], ['CHIO_GRPC_PORT', '1e2'], ['CHIO_GRPC_PORT', '70000'], ['CHIO_LANES', '0'], ['CHIO_LEDGER_VERIFY_THREADS', '65']])('says what a number setting takes: %s=%j', (name, value) => {
    expect(() => loadConfig({ env: { [name]: value } })).toThrow(new RegExp(`^setting ${name}: must be a whole number from \\d+ to \\d+, in decimal digits \\(got "${value}"\\)$`));
  });

  it('names a Kubernetes service link as the likely source of a port setting that holds tcp://ip:port', () => {
    expect(() => loadConfig({ env: { CHIO_LEDGER_PORT: 'tcp://10.96.0.11:9092' } })).toThrow(
      'setting CHIO_LEDGER_PORT: must be a whole number from 0 to 65535, in decimal digits (got "tcp://10.96.0.11:9092"): it looks like the variable Kubernetes sets for a Service named chio-ledger in the pod\'s namespace; set enableServiceLinks: false in the pod spec, or set CHIO_LEDGER_PORT explicitly');
    expect(() => loadConfig({ env: { CHIO_LEDGER_PORT: 'x' } })).not.toThrow('Kubernetes');
  });

  it('never puts a NATS password or token in its message when the config file gives one of the wrong type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    for (const key of ['natsToken', 'natsPass']) {
      const file = join(dir, `${key}.yaml`);
      writeFileSync(file, `natsUser: chio\n${key}: 8675309123456\n`);
      expect(() => loadConfig({ env: {}, configFile: file })).toThrow(`setting ${key} in ${file}`);
      expect(() => loadConfig({ env: {}, configFile: file })).not.toThrow('8675309123456');
    }
  });

  it('never quotes the config file when it is not YAML: the line it points at may hold a NATS password or token', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    const file = join(dir, 'chio.yaml');
    for (const text of ['natsUser: chio\nnatsPass: s3cr3t-8675309: x\n', 'natsToken: s3cr3t-8675309\nnatsToken: s3cr3t-8675309\n', '\tnatsToken: s3cr3t-8675309\n']) {
      writeFileSync(file, text);
      expect(() => loadConfig({ env: {}, configFile: file })).toThrow(new RegExp(`^config file ${file}: .* at line \\d+, column \\d+$`));
      expect(() => loadConfig({ env: {}, configFile: file })).not.toThrow('8675309');
    }
  });

  it.each([['CHIO_GRPC_PORT', ' '], ['CHIO_GRPC_PORT', '0x10'], ['CHIO_RECEIPT_TIMEOUT_MS', '1e2'], ['CHIO_LEDGER_VERIFY_THREADS', ' '], ['CHIO_LANES', '0b11']])(
    '%s=%j is not a decimal integer: refused, not read as a number JavaScript makes of it',
    (name, value) => {
      expect(() => loadConfig({ env: { [name]: value } })).toThrow(name);
    },
  );

  describe('when workers and lanes lengthen the chain id', () => {
    // `<chain id>-w<k>-<n>`: 58 + "-w1" + "-15" is 64, the most a subject token may be.
    it('takes the longest that fits', () => {
      expect(loadConfig({ env: { CHIO_CHAIN_ID: 'c'.repeat(58), CHIO_AUTHZ_WORKERS: '2', CHIO_LANES: '16' } }).authzWorkers).toBe(2);
    });

    it('refuses one character more, naming CHIO_CHAIN_ID', () => {
      expect(() => loadConfig({ env: { CHIO_CHAIN_ID: 'c'.repeat(59), CHIO_AUTHZ_WORKERS: '2', CHIO_LANES: '16' } })).toThrow(/CHIO_CHAIN_ID.*65 characters, over 64/);
    });
  });

  it('refuses a config file far larger than settings are, before parsing it', () => {
    // The YAML parser checks keys for duplicates pairwise: the 1 MiB once allowed held ~90,000
    // keys and kept start-up on one core for a minute before saying they were unknown.
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    const file = join(dir, 'chio.yaml');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join('\n'));
    const started = Date.now();
    expect(() => loadConfig({ env: {}, configFile: file })).toThrow(`config file ${file}: larger than`);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('refuses a config file that is no regular file (a link to /dev/zero, a FIFO), at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    symlinkSync('/dev/zero', join(dir, 'zero.yaml'));
    execFileSync('mkfifo', [join(dir, 'fifo.yaml')]);
    for (const name of ['zero.yaml', 'fifo.yaml']) {
      expect(() => loadConfig({ env: {}, configFile: join(dir, name) })).toThrow(`config file ${join(dir, name)}: not a regular file`);
    }
  });

  it('reads a YAML file, with the environment winning, and refuses unknown keys', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    const file = join(dir, 'chio.yaml');
    writeFileSync(file, 'grpcPort: 7000\nmode: shadow\n');
    expect(loadConfig({ env: {}, configFile: file })).toMatchObject({ grpcPort: 7000, mode: 'shadow' });
    expect(loadConfig({ env: { CHIO_GRPC_PORT: '7001' }, configFile: file }).grpcPort).toBe(7001);
    writeFileSync(file, 'grpcPrt: 7000\n');
    expect(() => loadConfig({ env: {}, configFile: file })).toThrow('unknown setting');
  });

  it.each([
    ['grpcPot: 7000\n', 'grpcPot (did you mean grpcPort?)'],
    ['receiptTimeoutMS: 100\n', 'receiptTimeoutMS (did you mean receiptTimeoutMs?)'],
    // The environment variable's name used as a key: the file's key is another spelling.
    ['CHIO_GRPC_PORT: 7000\n', 'CHIO_GRPC_PORT (the YAML key for CHIO_GRPC_PORT is grpcPort)'],
    ['NATS_URL: nats://n:4222\n', 'NATS_URL (the YAML key for NATS_URL is natsUrl)'],
    ['somethingElse: 1\n', 'somethingElse'],
  ])('refuses an unknown key %j with a hint at the setting meant', (text, told) => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    const file = join(dir, 'chio.yaml');
    writeFileSync(file, text);
    let message = '';
    try {
      loadConfig({ env: {}, configFile: file });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(`unknown setting(s) in ${file}: ${told}`);
  });

  it('refuses a key named like a property every object inherits (constructor, toString, __proto__)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    const file = join(dir, 'chio.yaml');
    for (const key of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      writeFileSync(file, `${key}: 1\n`);
      expect(() => loadConfig({ env: {}, configFile: file }), key).toThrow(`unknown setting(s) in ${file}: ${key}`);
    }
  });
});

describe('loadConfig --config', () => {
  it('says why a config file cannot be read, naming it once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cfg-'));
    expect(() => loadConfig({ env: {}, configFile: join(dir, 'absent.yaml') })).toThrow(new RegExp(`^config file ${join(dir, 'absent.yaml')}: cannot read \\(no such file\\)$`));
    expect(() => loadConfig({ env: {}, configFile: dir })).toThrow(new RegExp(`^config file ${dir}: not a regular file$`));
  });
});

describe('loadConfig, a misspelt CHIO_ variable', () => {
  it.each([['CHIO_MOD', 'CHIO_MODE'], ['CHIO_RECIEPT_TIMEOUT_MS', 'CHIO_RECEIPT_TIMEOUT_MS'], ['CHIO_LANE', 'CHIO_LANES'], ['CHIO_GRCP_PORT', 'CHIO_GRPC_PORT']])('refuses %s, naming %s', (name, meant) => {
    expect(() => loadConfig({ env: { [name]: 'x' } })).toThrow(`environment variable ${name} is no setting; did you mean ${meant}?`);
  });

  it('leaves alone its workers\' index and names that are not near a setting: a shell\'s CHIO_TOKEN, a password for nats-server, a Service\'s link variables', () => {
    expect(() => loadConfig({ env: { CHIO_TOKEN: 't', CHIO_AUTHZ_WORKER: '1', CHIO_LEDGER_NATS_PASSWORD: 'p', CHIO_NATS_SERVICE_HOST: '10.96.0.1', CHIO_NATS_PORT_4222_TCP: 'tcp://10.96.0.1:4222' } })).not.toThrow();
  });

  it('leaves alone the link variable of a Service whose name is near a setting\'s (chio-ledger-0, chio-tls): the kubelet set it, nobody misspelt it', () => {
    expect(() => loadConfig({ env: { CHIO_LEDGER_0_PORT: 'tcp://10.96.0.12:9092', CHIO_TLS_PORT: 'tcp://10.96.0.13:443' } })).not.toThrow();
  });
});
