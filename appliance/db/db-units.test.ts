import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ParapetError } from '../../filter/index.js';
import { DEFAULT_DATABASE_CONFIG, parseDatabaseConfig } from './config.js';
import { parseRecord } from './message-log-shipper.js';
import { findPgBinaries, listDebianPgBinaries } from './pg-binaries.js';
import { recipientKeys } from './quarantine-repo.js';

test('database config: defaults, overrides and refusals', () => {
  assert.equal(parseDatabaseConfig(undefined, 'node.json'), DEFAULT_DATABASE_CONFIG);
  assert.equal(DEFAULT_DATABASE_CONFIG.url, null);
  assert.equal(DEFAULT_DATABASE_CONFIG.port, 5432);
  const c = parseDatabaseConfig(
    { url: 'postgres://u:p@db.example/parapet', poolMax: 3 },
    'node.json',
  );
  assert.equal(c.url, 'postgres://u:p@db.example/parapet');
  assert.equal(c.poolMax, 3);
  assert.equal(c.port, 5432);
  for (const bad of [
    { url: 'mysql://x' },
    { port: 0 },
    { port: 70000 },
    { poolMax: 0 },
    { systemUser: 'root; rm -rf' },
    { connectTimeoutMs: -1 },
    [],
    'x',
  ]) {
    assert.throws(
      () => parseDatabaseConfig(bad, 'node.json'),
      (err: unknown) => err instanceof ParapetError && err.code === 'ERR_CONFIG_INVALID',
      JSON.stringify(bad),
    );
  }
});

test('pg binaries: newest Debian major first; an existing cluster gets its own major', async () => {
  const root = await mkdtemp(join(tmpdir(), 'parapet-pgbin-'));
  try {
    for (const major of ['13', '16', '15']) {
      const bin = join(root, major, 'bin');
      await mkdir(bin, { recursive: true });
      for (const name of ['initdb', 'postgres']) {
        await writeFile(join(bin, name), '#!/bin/sh\n');
        await chmod(join(bin, name), 0o755);
      }
    }
    await mkdir(join(root, 'notaversion', 'bin'), { recursive: true });
    assert.deepEqual(
      listDebianPgBinaries(root).map((b) => b.major),
      [16, 15, 13],
    );
    assert.equal(findPgBinaries({ debianRoot: root }).major, 16);
    const data = join(root, 'data');
    await mkdir(data);
    await writeFile(join(data, 'PG_VERSION'), '15\n');
    assert.equal(
      findPgBinaries({ debianRoot: root, dataDir: data }).binDir,
      join(root, '15', 'bin'),
    );
    await writeFile(join(data, 'PG_VERSION'), '12\n');
    const saved = process.env['PATH'];
    process.env['PATH'] = '';
    try {
      assert.throws(
        () => findPgBinaries({ debianRoot: root, dataDir: data }),
        (err: unknown) => err instanceof ParapetError && err.code === 'ERR_DB_BINARIES_NOT_FOUND',
      );
    } finally {
      process.env['PATH'] = saved;
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('parseRecord: a record the writer produced comes back whole', () => {
  const line = JSON.stringify({
    nodeId: 'n',
    seq: 7,
    id: 'x',
    time: '2026-01-01T00:00:00.000Z',
    queueId: 'Q1',
    client: { address: '192.0.2.1', name: 'c.example' },
    helo: 'h',
    from: 'a@b',
    to: ['c@d'],
    subject: 's',
    sizeBytes: 10,
    verdict: 'accept',
    reason: null,
    disposition: 'delivered',
    score: 1,
    symbols: [{ name: 'A', score: 1 }],
    rule: 'r',
    errorCode: null,
    timingsMs: { total: 1 },
  });
  assert.deepEqual(parseRecord(line), JSON.parse(line));
  assert.equal(parseRecord('{"nodeId":"n","seq":0,"time":"2026-01-01T00:00:00Z"}'), 'bad seq');
  assert.equal(parseRecord('[1]'), 'not an object');
  const hostile = parseRecord(
    '{"nodeId":"n","seq":1,"time":"2026-01-01T00:00:00Z","symbols":[{"name":{"toString":1}}]}',
  );
  assert.ok(typeof hostile !== 'string');
  assert.deepEqual(hostile.symbols, [{ name: '', score: 0 }]);
  assert.equal(parseRecord('{"seq":1'), 'not JSON');
});

const recordLike = fc
  .record(
    {
      nodeId: fc.oneof(fc.string(), fc.anything()),
      seq: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      time: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.string(),
        fc.anything(),
      ),
      client: fc.anything(),
      to: fc.oneof(fc.array(fc.string()), fc.anything()),
      symbols: fc.oneof(
        fc.array(fc.record({ name: fc.anything(), score: fc.anything() })),
        fc.anything(),
      ),
      timingsMs: fc.oneof(fc.dictionary(fc.string(), fc.double()), fc.anything()),
      sizeBytes: fc.anything(),
      score: fc.oneof(fc.double(), fc.anything()),
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));

test('parseRecord never throws, whatever the line holds', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.json(),
        fc.jsonValue().map((v) => JSON.stringify(v)),
        recordLike,
      ),
      (line) => {
        const result = parseRecord(line);
        assert.ok(
          typeof result === 'string' || (Number.isSafeInteger(result.seq) && result.seq > 0),
        );
      },
    ),
    { numRuns: 1000 },
  );
});

test('recipient keys: address, local part, domain and every parent domain', () => {
  assert.deepEqual(recipientKeys(['user1@corp.example']), [
    'user1@corp.example',
    'user1@',
    '@corp.example',
    '.example',
  ]);
  assert.deepEqual(recipientKeys(['a@mail.corp.example', 'b@corp.example', 'postmaster', 'x@']), [
    'a@mail.corp.example',
    'a@',
    '@mail.corp.example',
    '.corp.example',
    '.example',
    'b@corp.example',
    'b@',
    '@corp.example',
    'postmaster',
    'x@',
  ]);
});
