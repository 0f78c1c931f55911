// Postfix wiring against temp copies of /etc/postfix/{main,master}.cf, driven through the real
// postconf. Skips when postconf is missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProvisioningError } from '../errors.js';
import {
  addMilter,
  configurePostfix,
  contentFilterMasterCf,
  removeMilter,
  resolveWiringOptions,
  splitMilterList,
  undoPostfix,
} from './postfix-wiring.js';

const POSTCONF = '/usr/sbin/postconf';
const SOURCE = '/etc/postfix';
const skip = !existsSync(POSTCONF)
  ? 'postconf not installed (package postfix)'
  : !existsSync(join(SOURCE, 'main.cf'))
    ? `${SOURCE}/main.cf missing`
    : false;

const dirs: string[] = [];
function freshConfigDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parapet-wiring-'));
  dirs.push(dir);
  copyFileSync(join(SOURCE, 'main.cf'), join(dir, 'main.cf'));
  copyFileSync(join(SOURCE, 'master.cf'), join(dir, 'master.cf'));
  return dir;
}
function snapshot(dir: string): { main: string; master: string } {
  return {
    main: readFileSync(join(dir, 'main.cf'), 'utf8'),
    master: readFileSync(join(dir, 'master.cf'), 'utf8'),
  };
}
function postconf(dir: string, ...args: string[]): string {
  return execFileSync(POSTCONF, ['-c', dir, ...args], { encoding: 'utf8' });
}
/** `postconf -n` without config_directory, which differs between copies by construction. */
function effective(dir: string): string {
  return postconf(dir, '-n')
    .split('\n')
    .filter((l) => !l.startsWith('config_directory ='))
    .join('\n');
}
function param(dir: string, key: string): string {
  return postconf(dir, '-h', key).trim();
}
function masterEntry(dir: string, key: string): string {
  return postconf(dir, '-M', key).trim().split(/\s+/).join(' ');
}
function assertInvalid(code: string): (err: unknown) => boolean {
  return (err) => err instanceof ProvisioningError && err.code === code;
}

describe('postfix wiring (real postconf)', { skip }, () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  describe('content-filter mode', () => {
    let dir: string;
    before(async () => {
      dir = freshConfigDir();
      await configurePostfix({ configDir: dir });
    });

    test('main.cf routes mail through the parapet transport to 10025', () => {
      assert.equal(param(dir, 'content_filter'), 'parapet:[127.0.0.1]:10025');
      assert.equal(param(dir, 'receive_override_options'), 'no_address_mappings');
    });

    test('master.cf has the XFORWARD transport and the filter-free 10026 smtpd', () => {
      const transport = masterEntry(dir, 'parapet/unix');
      assert.match(transport, /^parapet unix - - n - 10 smtp /);
      assert.match(transport, / -o smtp_send_xforward_command=yes /);
      const reinject = masterEntry(dir, '127.0.0.1:10026/inet');
      assert.match(reinject, /^127\.0\.0\.1:10026 inet n - n - - smtpd /);
      for (const option of [
        '-o content_filter= ',
        '-o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
        '-o smtpd_authorized_xforward_hosts=127.0.0.0/8',
        '-o mynetworks=127.0.0.0/8',
        '-o smtpd_recipient_restrictions=permit_mynetworks,reject',
        '-o smtpd_relay_restrictions=permit_mynetworks,reject',
      ]) {
        assert.ok(`${reinject} `.includes(option), `missing ${option}`);
      }
    });

    test('postfix check accepts the result', { skip: !existsSync('/usr/sbin/postfix') }, () => {
      execFileSync('/usr/sbin/postfix', ['-c', dir, 'check'], { stdio: 'pipe' });
    });

    test('a second run changes no byte and reports no change', async () => {
      const first = snapshot(dir);
      const report = await configurePostfix({ configDir: dir });
      assert.deepEqual(report.changes, []);
      assert.deepEqual(snapshot(dir), first);
    });

    test('non-default addresses replace the old services', async () => {
      const d = freshConfigDir();
      await configurePostfix({ configDir: d });
      await configurePostfix({
        configDir: d,
        filterAddress: '127.0.0.1:20025',
        reinjectAddress: '127.0.0.1:20026',
      });
      assert.equal(param(d, 'content_filter'), 'parapet:[127.0.0.1]:20025');
      assert.equal(postconf(d, '-M', '127.0.0.1:10026/inet').trim(), '');
      assert.match(masterEntry(d, '127.0.0.1:20026/inet'), /smtpd/);
    });
  });

  describe('milter mode', () => {
    test('sets the milter lists, protocol, tempfail default, timeouts and macros', async () => {
      const dir = freshConfigDir();
      await configurePostfix({ configDir: dir, mode: 'milter' });
      assert.equal(param(dir, 'smtpd_milters'), 'inet:127.0.0.1:3366');
      assert.equal(param(dir, 'non_smtpd_milters'), 'inet:127.0.0.1:3366');
      assert.equal(param(dir, 'milter_protocol'), '6');
      assert.equal(param(dir, 'milter_default_action'), 'tempfail');
      assert.match(param(dir, 'milter_end_of_data_macros'), /^i /);
      assert.match(param(dir, 'milter_connect_macros'), /\{client_addr\}/);
      const first = snapshot(dir);
      assert.deepEqual((await configurePostfix({ configDir: dir, mode: 'milter' })).changes, []);
      assert.deepEqual(snapshot(dir), first);
    });

    test('keeps milters that are already configured, and undo keeps them too', async () => {
      const dir = freshConfigDir();
      postconf(dir, '-e', 'smtpd_milters=unix:/run/opendkim/opendkim.sock');
      const original = effective(dir);
      await configurePostfix({ configDir: dir, mode: 'milter', milterAddress: 'unix:/run/p.sock' });
      assert.equal(
        param(dir, 'smtpd_milters'),
        'unix:/run/opendkim/opendkim.sock, unix:/run/p.sock',
      );
      await undoPostfix({ configDir: dir, milterAddress: 'unix:/run/p.sock' });
      assert.equal(effective(dir), original);
    });
  });

  test('switching modes removes the other mode’s settings', async () => {
    const dir = freshConfigDir();
    await configurePostfix({ configDir: dir, mode: 'content-filter' });
    await configurePostfix({ configDir: dir, mode: 'milter' });
    assert.equal(param(dir, 'content_filter'), '');
    assert.equal(postconf(dir, '-n', 'receive_override_options').trim(), '');
    assert.equal(postconf(dir, '-M', 'parapet/unix').trim(), '');
    // The filter-free re-injection smtpd stays: the Queue Runner delivers there in both modes.
    assert.match(
      masterEntry(dir, '127.0.0.1:10026/inet'),
      /^127\.0\.0\.1:10026 inet n - n - - smtpd /,
    );
    await configurePostfix({ configDir: dir, mode: 'content-filter' });
    assert.equal(postconf(dir, '-n', 'smtpd_milters', 'milter_default_action').trim(), '');
    assert.equal(param(dir, 'content_filter'), 'parapet:[127.0.0.1]:10025');
  });

  test('undo restores the original files, from either mode', async () => {
    for (const mode of ['content-filter', 'milter'] as const) {
      const dir = freshConfigDir();
      const original = snapshot(dir);
      const originalEffective = effective(dir);
      await configurePostfix({ configDir: dir, mode });
      assert.notEqual(effective(dir), originalEffective);
      const report = await undoPostfix({ configDir: dir });
      assert.ok(report.changes.length > 0);
      assert.equal(effective(dir), originalEffective);
      assert.deepEqual(snapshot(dir), original);
      assert.deepEqual((await undoPostfix({ configDir: dir })).changes, []);
    }
  });

  test('a missing config dir is ERR_MTA_CONFIG_DIR', async () => {
    await assert.rejects(
      configurePostfix({ configDir: join(tmpdir(), 'parapet-no-such-dir') }),
      assertInvalid('ERR_MTA_CONFIG_DIR'),
    );
  });

  test('a missing postconf is ERR_MTA_POSTCONF_MISSING', async () => {
    await assert.rejects(
      configurePostfix({ configDir: freshConfigDir(), postconfPath: '/nonexistent/postconf' }),
      assertInvalid('ERR_MTA_POSTCONF_MISSING'),
    );
  });
});

describe('option validation', () => {
  const bad: [string, Parameters<typeof resolveWiringOptions>[0]][] = [
    ['unknown mode', { mode: 'before-queue' }],
    ['filter address without port', { filterAddress: '127.0.0.1' }],
    ['filter port out of range', { filterAddress: '127.0.0.1:70000' }],
    ['bad IPv4', { filterAddress: '1.2.3:99' }],
    ['non-loopback reinject', { reinjectAddress: '10.0.0.1:10026' }],
    ['reinject equals filter', { filterAddress: '127.0.0.1:10026' }],
    ['milter without scheme', { milterAddress: '127.0.0.1:3366' }],
    ['relative unix socket', { milterAddress: 'unix:run/p.sock' }],
    ['socket path with a comma', { milterAddress: 'unix:/run/a,b.sock' }],
    ['service name with a space', { serviceName: 'para pet' }],
    ['zero process limit', { filterProcessLimit: 0 }],
    ['witness over TCP', { witnessAddress: 'inet:127.0.0.1:3367' }],
  ];
  for (const [name, options] of bad) {
    test(`rejects ${name} with a one-line ERR_MTA_INVALID_OPTION`, () => {
      assert.throws(
        () => resolveWiringOptions(options),
        (err: unknown) =>
          err instanceof ProvisioningError &&
          err.code === 'ERR_MTA_INVALID_OPTION' &&
          !err.message.includes('\n'),
      );
    });
  }

  test('accepts the defaults and a unix milter socket', () => {
    const o = resolveWiringOptions({ mode: 'milter', milterAddress: 'unix:/run/parapet/m.sock' });
    assert.equal(o.filterPort, 10025);
    assert.equal(o.reinjectPort, 10026);
    assert.equal(o.milterAddress, 'unix:/run/parapet/m.sock');
  });
});

describe('re-injection witness', () => {
  const reinjectEntry = (witnessAddress: string | null, mode = 'content-filter'): string =>
    contentFilterMasterCf(resolveWiringOptions({ mode, witnessAddress })).find((e) =>
      e.key.endsWith('/inet'),
    )?.entry ?? '';
  test('the re-injection smtpd consults the witness, tempfailing when it is unreachable', () => {
    const entry = reinjectEntry('unix:/run/parapet/witness.sock');
    assert.match(entry, / -o smtpd_milters=unix:\/run\/parapet\/witness\.sock /);
    assert.match(entry, / -o milter_default_action=tempfail /);
    assert.doesNotMatch(entry, /no_milters/);
  });
  test('without a witness, and in milter mode, the re-injection smtpd has no milters', () => {
    for (const entry of [reinjectEntry(null), reinjectEntry('unix:/w.sock', 'milter')]) {
      assert.match(entry, /no_milters/);
      assert.match(entry, / -o smtpd_milters= /);
    }
  });
});

describe('milter lists', () => {
  test('split on commas and blanks, keeping { } groups whole', () => {
    assert.deepEqual(splitMilterList('a, b  c,{ inet:x:1, default_action=accept }'), [
      'a',
      'b',
      'c',
      '{ inet:x:1, default_action=accept }',
    ]);
  });
  test('add once, remove only ours', () => {
    assert.equal(addMilter(undefined, 'inet:127.0.0.1:3366'), 'inet:127.0.0.1:3366');
    assert.equal(
      addMilter('a, inet:127.0.0.1:3366', 'inet:127.0.0.1:3366'),
      'a, inet:127.0.0.1:3366',
    );
    assert.equal(removeMilter('a, { inet:127.0.0.1:3366, x=y }', 'inet:127.0.0.1:3366'), 'a');
    assert.equal(removeMilter('inet:127.0.0.1:3366', 'inet:127.0.0.1:3366'), undefined);
  });
});

describe('IP Blocker wiring (real postconf)', { skip }, () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('both modes put the check first and keep the administrator’s restrictions', async () => {
    const dir = freshConfigDir();
    postconf(
      dir,
      '-e',
      'smtpd_client_restrictions=permit_mynetworks, reject_unknown_client_hostname',
    );
    await configurePostfix({ configDir: dir });
    const wired = param(dir, 'smtpd_client_restrictions');
    assert.equal(
      wired,
      'check_policy_service { inet:127.0.0.1:10040, default_action=DUNNO, try_limit=1, timeout=10s }, permit_mynetworks, reject_unknown_client_hostname',
    );
    if (existsSync('/usr/sbin/postfix')) {
      execFileSync('/usr/sbin/postfix', ['-c', dir, 'check'], { stdio: 'pipe' });
    }
    const first = effective(dir);
    await configurePostfix({ configDir: dir, mode: 'milter' });
    assert.equal(param(dir, 'smtpd_client_restrictions'), wired);
    assert.deepEqual((await configurePostfix({ configDir: dir, mode: 'milter' })).changes, []);
    await configurePostfix({ configDir: dir });
    assert.equal(effective(dir), first);
  });

  test('undo and --no-ipblocker remove only our element; a moved address replaces the old', async () => {
    const dir = freshConfigDir();
    postconf(dir, '-e', 'smtpd_client_restrictions=permit_mynetworks');
    await configurePostfix({ configDir: dir, ipblockerAddress: '127.0.0.1:10041' });
    assert.match(
      param(dir, 'smtpd_client_restrictions'),
      /^check_policy_service \{ inet:127\.0\.0\.1:10041,/,
    );
    await configurePostfix({ configDir: dir });
    const value = param(dir, 'smtpd_client_restrictions');
    assert.equal(value.split('check_policy_service').length, 2, value);
    assert.match(value, /inet:127\.0\.0\.1:10040/);
    await configurePostfix({ configDir: dir, ipblockerAddress: null });
    assert.equal(param(dir, 'smtpd_client_restrictions'), 'permit_mynetworks');
    await configurePostfix({ configDir: dir });
    await undoPostfix({ configDir: dir });
    assert.equal(param(dir, 'smtpd_client_restrictions'), 'permit_mynetworks');
  });

  test('an empty list is unset again by undo', async () => {
    const dir = freshConfigDir();
    const original = snapshot(dir);
    await configurePostfix({ configDir: dir, mode: 'milter' });
    assert.match(param(dir, 'smtpd_client_restrictions'), /^check_policy_service/);
    await undoPostfix({ configDir: dir });
    assert.deepEqual(snapshot(dir), original);
  });
});
