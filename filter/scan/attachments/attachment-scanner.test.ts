import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { zipSync } from 'fflate';
import { messageFromRaw } from '../../test-support.js';
import type { ScannerOutput } from '../scanner.js';
import { createAttachmentScanner } from './attachment-scanner.js';
import { detectFileType, FileTypes } from './file-type.js';
import { listZipEntries, readZipEntry } from './zip-reader.js';

interface Part {
  readonly filename: string;
  readonly type: string;
  readonly content: Uint8Array;
}

function mail(parts: readonly Part[]): string {
  const lines = [
    'From: billing@example.org',
    'To: you@example.net',
    'Subject: your documents',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="xyz"',
    '',
    '--xyz',
    'Content-Type: text/plain',
    '',
    'See attached.',
  ];
  for (const p of parts) {
    lines.push(
      '--xyz',
      `Content-Type: ${p.type}; name="${p.filename}"`,
      'Content-Transfer-Encoding: base64',
      `Content-Disposition: attachment; filename="${p.filename}"`,
      '',
      Buffer.from(p.content).toString('base64').replace(/.{76}/g, '$&\r\n'),
    );
  }
  lines.push('--xyz--', '');
  return lines.join('\r\n');
}

async function scan(parts: readonly Part[], options = {}): Promise<ScannerOutput> {
  const scanner = createAttachmentScanner(options);
  return scanner.scan(await messageFromRaw(mail(parts)), new AbortController().signal);
}

function symbols(out: ScannerOutput): string[] {
  return out.findings.map((f) => f.symbol).sort();
}

const PE = Buffer.concat([Buffer.from('MZ\x90\x00', 'latin1'), Buffer.alloc(200, 1)]);
const PDF = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n');
const enc = (s: string) => Buffer.from(s);

/** Marks every entry of a zip as encrypted (general purpose bit 0), as ZipCrypto would. */
function markEncrypted(zip: Uint8Array): Uint8Array {
  const out = Buffer.from(zip);
  for (let at = 0; at + 4 <= out.length; at++) {
    const sig = out.readUInt32LE(at);
    if (sig === 0x04034b50) out.writeUInt16LE(out.readUInt16LE(at + 6) | 1, at + 6);
    if (sig === 0x02014b50) out.writeUInt16LE(out.readUInt16LE(at + 8) | 1, at + 8);
  }
  return out;
}

test('types by content: executables, archives, documents, markup, images', () => {
  const iso = Buffer.alloc(32_800);
  iso.write('CD001', 32_769, 'latin1');
  const cases: [Uint8Array, string | null][] = [
    [PE, FileTypes.exe],
    [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]), FileTypes.elf],
    [Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0]), FileTypes.macho],
    [Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]), FileTypes.macho],
    [Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]), null], // a Java class file
    [zipSync({ 'a.txt': enc('x') }), FileTypes.zip],
    [Buffer.from('Rar!\x1a\x07\x01\x00', 'latin1'), FileTypes.rar],
    [Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]), FileTypes.sevenZip],
    [Buffer.from([0x1f, 0x8b, 8, 0]), FileTypes.gzip],
    [PDF, FileTypes.pdf],
    [Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0]), FileTypes.ole],
    [enc('\uFEFF  <!DOCTYPE html><html><form action="https://x">'), FileTypes.html],
    [enc('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/>'), FileTypes.svg],
    [enc('#!/bin/sh\ncurl x | sh\n'), FileTypes.script],
    [iso, FileTypes.iso],
    [Buffer.from([0x4c, 0, 0, 0, 1, 0x14, 2, 0, 0, 0]), FileTypes.lnk],
    [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), FileTypes.png],
    [enc('{\\rtf1\\ansi hello}'), FileTypes.rtf],
    [enc('just some text'), null],
    [new Uint8Array(0), null],
  ];
  for (const [bytes, expected] of cases) {
    assert.equal(
      detectFileType(bytes),
      expected,
      Buffer.from(bytes.subarray(0, 12)).toString('hex'),
    );
  }
});

test('a program dressed as a PDF: executable content and type mismatch', async () => {
  const out = await scan([{ filename: 'invoice.pdf.exe', type: 'application/pdf', content: PE }]);
  // The name itself (double extension, .exe) is the rule catalogue's ATTACH_* business.
  assert.deepEqual(symbols(out), ['FILE_EXECUTABLE_CONTENT', 'FILE_TYPE_MISMATCH']);
  assert.deepEqual(out.facts?.attachments, [
    {
      filename: 'invoice.pdf.exe',
      declaredType: 'application/pdf',
      detectedType: FileTypes.exe,
      sizeBytes: PE.length,
      depth: 0,
      encrypted: false,
    },
  ]);
  const renamed = await scan([
    { filename: 'scan.pdf', type: 'application/octet-stream', content: PE },
  ]);
  assert.deepEqual(symbols(renamed), ['FILE_EXECUTABLE_CONTENT', 'FILE_TYPE_MISMATCH']);
  const html = await scan([
    { filename: 'statement.pdf', type: 'application/pdf', content: enc('<html><form>') },
  ]);
  assert.deepEqual(symbols(html), ['FILE_TYPE_MISMATCH']);
  // Names alone at the top level give nothing here (no double scoring with the rules).
  const named = await scan([
    { filename: 'Remittance.htm', type: 'text/html', content: enc('<html>') },
  ]);
  assert.deepEqual(named.findings, []);
});

test('inside an archive: HTML, script, shortcut, disk image and a right-to-left override', async () => {
  const zip = zipSync({
    'Remittance_Advice.htm': enc('<html><form></form></html>'),
    'update.js': enc('WScript.Shell'),
    'photo.lnk': Buffer.from([0x4c, 0, 0, 0, 1, 0x14, 2, 0]),
    'parcel.iso': Buffer.alloc(100),
    'invoice\u202Efdp.scr': enc('x'),
    'notes.txt': enc('plain'),
  });
  const out = await scan([{ filename: 'docs.zip', type: 'application/zip', content: zip }]);
  assert.deepEqual(symbols(out), [
    'FILE_EXECUTABLE_CONTENT',
    'NESTED_DANGEROUS_NAME',
    'NESTED_DOUBLE_EXT',
  ]);
  // One finding per symbol, however many files: the evidence lists them.
  const dangerous = out.findings.find((f) => f.symbol === 'NESTED_DANGEROUS_NAME');
  assert.match(dangerous?.evidence ?? '', /docs\.zip\/Remittance_Advice\.htm; .*\+2 more/);
  assert.match(
    out.findings.find((f) => f.symbol === 'FILE_EXECUTABLE_CONTENT')?.evidence ?? '',
    /photo\.lnk/,
  );
});

test('ordinary documents give no findings, and OOXML is told apart from a plain zip', async () => {
  const docx = zipSync({
    '[Content_Types].xml': enc('<Types/>'),
    'word/document.xml': enc('<w:document/>'),
  });
  const out = await scan([
    { filename: 'report.pdf', type: 'application/pdf', content: PDF },
    {
      filename: 'contract.docx',
      type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      content: docx,
    },
    {
      filename: 'logo.png',
      type: 'image/png',
      content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    },
  ]);
  assert.deepEqual(out.findings, []);
  assert.deepEqual(
    out.facts?.attachments?.map((a) => [a.filename, a.detectedType, a.depth]),
    [
      ['report.pdf', FileTypes.pdf, 0],
      ['contract.docx', FileTypes.docx, 0],
      ['logo.png', FileTypes.png, 0],
    ],
  );
});

test('nested zips are walked: members get depths and paths, dangerous ones are found', async () => {
  const inner = zipSync({ 'payload.exe': PE, 'readme.txt': enc('hi') });
  const outer = zipSync({ 'docs/run.js': enc('eval(x)'), 'inner.zip': inner });
  const out = await scan([{ filename: 'files.zip', type: 'application/zip', content: outer }]);
  assert.deepEqual(symbols(out), ['FILE_EXECUTABLE_CONTENT', 'NESTED_DANGEROUS_NAME']);
  assert.deepEqual(
    out.facts?.attachments?.map((a) => [a.filename, a.depth, a.detectedType]),
    [
      ['files.zip', 0, FileTypes.zip],
      ['docs/run.js', 1, null],
      ['inner.zip', 1, FileTypes.zip],
      ['payload.exe', 2, FileTypes.exe],
      ['readme.txt', 2, null],
    ],
  );
  assert.match(
    out.findings.find((f) => f.symbol === 'FILE_EXECUTABLE_CONTENT')?.evidence ?? '',
    /files\.zip\/inner\.zip\/payload\.exe/,
  );
});

test('attachments of an attached (forwarded) message are inspected one level deeper', async () => {
  const inner = [
    'From: x@example.com',
    'Subject: original',
    'Content-Type: multipart/mixed; boundary=in',
    '',
    '--in',
    'Content-Type: text/plain',
    '',
    'hi',
    '--in',
    'Content-Type: application/octet-stream; name=setup.exe',
    'Content-Disposition: attachment; filename=setup.exe',
    'Content-Transfer-Encoding: base64',
    '',
    PE.toString('base64'),
    '--in--',
    '',
  ].join('\r\n');
  const out = await scan([{ filename: 'fwd.eml', type: 'message/rfc822', content: enc(inner) }]);
  assert.deepEqual(symbols(out), ['FILE_EXECUTABLE_CONTENT', 'NESTED_DANGEROUS_NAME']);
  assert.match(out.findings[0]?.evidence ?? '', /fwd\.eml\/setup\.exe/);
  assert.deepEqual(
    out.facts?.attachments?.map((a) => [a.filename, a.depth]),
    [
      ['fwd.eml', 0],
      ['setup.exe', 1],
    ],
  );
});

test('encrypted archive members are a finding and a fact', async () => {
  const zip = markEncrypted(zipSync({ 'secret.docx': enc('ciphertext') }));
  const out = await scan([{ filename: 'Password_123.zip', type: 'application/zip', content: zip }]);
  assert.deepEqual(symbols(out), ['ARCHIVE_ENCRYPTED']);
  assert.equal(out.facts?.attachments?.[1]?.encrypted, true);
  assert.equal(out.facts.attachments[1].detectedType, null);
});

test('limits: nesting depth, member count and inflated bytes end in ARCHIVE_LIMIT', async () => {
  let nested: Uint8Array = zipSync({ 'deep.exe': PE });
  for (let i = 0; i < 5; i++) nested = zipSync({ [`level${String(i)}.zip`]: nested });
  const deep = await scan([{ filename: 'a.zip', type: 'application/zip', content: nested }], {
    maxDepth: 2,
  });
  assert.deepEqual(symbols(deep), ['ARCHIVE_LIMIT']);
  assert.equal(Math.max(...(deep.facts?.attachments ?? []).map((a) => a.depth)), 2);

  const many: Record<string, Uint8Array> = {};
  for (let i = 0; i < 20; i++) many[`f${String(i)}.txt`] = enc('x');
  const wide = await scan(
    [{ filename: 'w.zip', type: 'application/zip', content: zipSync(many) }],
    {
      maxMembers: 5,
    },
  );
  assert.deepEqual(symbols(wide), ['ARCHIVE_LIMIT']);
  assert.ok((wide.facts?.attachments?.length ?? 0) <= 6);

  // A 4 MiB member that deflates to ~4 KiB, inside a nested zip: only the budget is inflated.
  const bomb = zipSync({ 'zeros.bin': new Uint8Array(4 * 1024 * 1024) }, { level: 1 });
  const wrapper = zipSync({ 'bomb.zip': bomb }, { level: 0 });
  const before = process.memoryUsage().arrayBuffers;
  const out = await scan([{ filename: 'b.zip', type: 'application/zip', content: wrapper }], {
    maxMemberBytes: 256 * 1024,
  });
  const grown = process.memoryUsage().arrayBuffers - before;
  console.log(
    `zip bomb (4 MiB member, ${bomb.length} B compressed): +${(grown / 1048576).toFixed(1)} MiB array buffers`,
  );
  assert.deepEqual(
    out.facts?.attachments?.map((a) => [a.filename, a.sizeBytes]),
    [
      ['b.zip', wrapper.length],
      ['bomb.zip', bomb.length],
      ['zeros.bin', 4 * 1024 * 1024],
    ],
  );
});

test('a malformed zip is ARCHIVE_CORRUPT; a text-only message skips the MIME parse', async () => {
  const broken = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100, 7)]);
  const out = await scan([{ filename: 'x.zip', type: 'application/zip', content: broken }]);
  assert.deepEqual(symbols(out), ['ARCHIVE_CORRUPT']);
  const scanner = createAttachmentScanner();
  const plain = await messageFromRaw('From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n');
  assert.deepEqual(await scanner.scan(plain, new AbortController().signal), {
    findings: [],
    facts: { attachments: [] },
  });
});

test('fuzz: arbitrary bytes never make the zip reader or type detection throw', () => {
  const zip = zipSync({ 'a.txt': enc('hello'), 'b/c.exe': PE });
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.nat({ max: zip.length }),
      fc.uint8Array({ maxLength: 8 }),
      (random, at, patch) => {
        detectFileType(random);
        const listed = listZipEntries(random, 100);
        assert.ok(['ok', 'corrupt'].includes(listed.kind));
        // Corrupt a valid zip at a random place: still a value, never a throw.
        const damaged = Buffer.from(zip);
        damaged.set(patch.subarray(0, Math.max(0, damaged.length - at)), at);
        const result = listZipEntries(damaged, 100);
        if (result.kind === 'ok') for (const e of result.entries) readZipEntry(damaged, e, 1024);
      },
    ),
    { numRuns: 2000 },
  );
});

test('fuzz: the scanner survives damaged archives in real messages', async () => {
  const zip = zipSync({ 'inner.zip': zipSync({ 'x.exe': PE }), 'a.txt': enc('a') });
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: zip.length - 1 }),
      fc.uint8Array({ minLength: 1, maxLength: 6 }),
      async (at, patch) => {
        const damaged = Buffer.from(zip);
        damaged.set(patch.subarray(0, damaged.length - at), at);
        const out = await scan([{ filename: 'd.zip', type: 'application/zip', content: damaged }]);
        assert.ok(Array.isArray(out.facts?.attachments));
      },
    ),
    { numRuns: 150 },
  );
});

test('scan cost per message (printed)', async () => {
  const scanner = createAttachmentScanner();
  const signal = new AbortController().signal;
  const withZip = await messageFromRaw(
    mail([
      {
        filename: 'report.pdf',
        type: 'application/pdf',
        content: Buffer.concat([PDF, Buffer.alloc(20_000, 65)]),
      },
      {
        filename: 'files.zip',
        type: 'application/zip',
        content: zipSync({ 'a.txt': enc('x'.repeat(5000)), 'b.docx': enc('y') }),
      },
    ]),
  );
  const plain = await messageFromRaw('From: a@b.example\r\nSubject: x\r\n\r\nhello\r\n');
  const measure = async (message: typeof plain, fresh: boolean): Promise<number> => {
    const rounds = fresh ? 50 : 200;
    const cpu = process.cpuUsage();
    for (let i = 0; i < rounds; i++) {
      // A fresh Message each round would include the MIME parse; the cached one shows our part.
      const m = fresh ? await messageFromRaw(await message.toBuffer()) : message;
      await scanner.scan(m, signal);
    }
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / rounds;
  };
  console.log(
    `attachments scanner: text-only ${(await measure(plain, false)).toFixed(1)} µs; ` +
      `pdf+zip ${(await measure(withZip, false)).toFixed(0)} µs (MIME cached), ` +
      `${(await measure(withZip, true)).toFixed(0)} µs with the MIME parse`,
  );
});
