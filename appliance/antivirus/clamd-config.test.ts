import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clamdPaths, renderClamdConfig } from './clamd-config.js';
import { loadAntivirusSettings } from './antivirus-service.js';
import { EICAR_TEST_STRING, shippedSignatureFiles } from './signatures.js';

test('clamd.conf keeps everything under the antivirus directory, in the foreground', () => {
  const conf = renderClamdConfig({
    dir: '/h/antivirus',
    user: 'clamav',
    maxStreamBytes: 1000,
    maxScanTimeMs: 2000,
    maxThreads: 3,
    extra: { Bytecode: 'no', Evil: 'x\nUser root' },
  });
  const paths = clamdPaths('/h/antivirus');
  for (const line of [
    'Foreground yes',
    `LocalSocket ${paths.socket}`,
    `DatabaseDirectory ${paths.databaseDir}`,
    `TemporaryDirectory ${paths.tempDir}`,
    'StreamMaxLength 1000',
    'MaxScanTime 2000',
    'MaxThreads 3',
    'User clamav',
    'Bytecode no',
  ]) {
    assert.ok(conf.split('\n').includes(line), line);
  }
  // A value cannot smuggle a second directive onto its own line.
  assert.ok(!conf.split('\n').includes('User root'));
  assert.ok(
    !renderClamdConfig({
      dir: '/h',
      user: null,
      maxStreamBytes: 1,
      maxScanTimeMs: 1,
      maxThreads: 1,
      extra: {},
    }).includes('User '),
  );
});

test('the shipped signatures match the EICAR string (ndb) and file (hdb)', () => {
  const files = shippedSignatureFiles();
  const ndb = files.get('parapet-eicar.ndb') ?? '';
  const hex = ndb.trim().split(':')[3] ?? '';
  assert.equal(Buffer.from(hex, 'hex').toString('latin1'), EICAR_TEST_STRING);
  assert.match(files.get('parapet-eicar.hdb') ?? '', /^44d88612fea8a8f36de82e1278abb02f:68:/);
});

test('antivirus settings from node.json: defaults, valid values, clear errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'parapet-avconf-'));
  try {
    assert.deepEqual(await loadAntivirusSettings(dir), {});
    await writeFile(join(dir, 'node.json'), JSON.stringify({ policy: {} }));
    assert.deepEqual(await loadAntivirusSettings(dir), {});
    await writeFile(
      join(dir, 'node.json'),
      JSON.stringify({ antivirus: { officialDatabaseDir: null, maxThreads: 2, user: 'parapet' } }),
    );
    assert.deepEqual(await loadAntivirusSettings(dir), {
      officialDatabaseDir: null,
      maxThreads: 2,
      user: 'parapet',
    });
    await writeFile(join(dir, 'node.json'), JSON.stringify({ antivirus: { maxThreads: -1 } }));
    await assert.rejects(loadAntivirusSettings(dir), { code: 'ERR_CONFIG_INVALID' });
    await writeFile(join(dir, 'node.json'), '{not json');
    await assert.rejects(loadAntivirusSettings(dir), { code: 'ERR_CONFIG_INVALID' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
