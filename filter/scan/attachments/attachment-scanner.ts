/**
 * Attachment and archive inspection: every MIME attachment (through the message's lazy MIME
 * view), every member of attached zip archives and every attachment of attached messages,
 * nested up to maxDepth, typed by content. Reports facts.attachments (one AttachmentInfo per
 * file) and findings for what the rule catalogue's file-name rules cannot see: program or
 * disk-image content, content that contradicts its name or declared type, dangerous or
 * disguised names inside archives and attached messages, encrypted archives. Limits (depth,
 * member count, inflated bytes) bound the work on hostile archives; going over one is a
 * finding, not an error.
 */
import type { Message } from '../../message/message.js';
import { parseMime, type MimeAttachment } from '../../message/mime.js';
import type { AttachmentInfo, Finding, Scanner, ScannerOutput } from '../scanner.js';
import { symbolMap, type SymbolDefinition } from '../symbols.js';
import {
  detectFileType,
  FILE_TYPE_SNIFF_BYTES,
  FileTypes,
  isExecutableType,
  refineZipType,
} from './file-type.js';
import { listZipEntries, readZipEntry } from './zip-reader.js';

/**
 * Symbols of this scanner: group, default score, description. They complement the rule
 * catalogue's name rules (ATTACH_EXECUTABLE, ATTACH_DOUBLE_EXT, … on the message's own MIME
 * file names): this scanner reports what those cannot see — content, and names nested in
 * archives and attached messages — so one file does not score twice for the same thing.
 */
export const ATTACHMENT_SYMBOL_TABLE = {
  FILE_EXECUTABLE_CONTENT: {
    group: 'attachment',
    defaultScore: 3,
    description:
      'a file whose content is a program (PE, ELF, Mach-O, JAR, shortcut, #! script), at any depth',
  },
  FILE_DISK_IMAGE_CONTENT: {
    group: 'attachment',
    defaultScore: 2.5,
    description:
      'a file whose content is a disk image (ISO 9660, VHD), used to bypass mark-of-the-web',
  },
  FILE_TYPE_MISMATCH: {
    group: 'attachment',
    defaultScore: 2.5,
    description:
      'the content contradicts the declared type or the file name (a program named .pdf)',
  },
  NESTED_DANGEROUS_NAME: {
    group: 'attachment',
    defaultScore: 3,
    description:
      'an archive member or a file in an attached message is named as a program, script, shortcut, disk image or HTML page',
  },
  NESTED_DOUBLE_EXT: {
    group: 'attachment',
    defaultScore: 2,
    description:
      'an archive member or a file in an attached message hides its extension ("invoice.pdf.exe", padding, right-to-left override)',
  },
  ARCHIVE_ENCRYPTED: {
    group: 'attachment',
    defaultScore: 2,
    description: 'an attached archive holds encrypted members, so its content cannot be inspected',
  },
  ARCHIVE_LIMIT: {
    group: 'attachment',
    defaultScore: 0.5,
    description: 'archive inspection stopped at a limit (nesting depth, member count, size)',
  },
  ARCHIVE_CORRUPT: {
    group: 'attachment',
    defaultScore: 1,
    description: 'an attached zip archive or attached message is malformed',
  },
} as const;

/** The same, as catalogue entries (filter/scan/symbols.ts), for the symbol catalogue. */
export const ATTACHMENT_SYMBOLS: ReadonlyMap<string, SymbolDefinition> =
  symbolMap(ATTACHMENT_SYMBOL_TABLE);

export type AttachmentSymbol = keyof typeof ATTACHMENT_SYMBOL_TABLE;

export interface AttachmentScannerOptions {
  /** Deepest archive nesting inspected (1 = members of an attached archive). Default 3. */
  readonly maxDepth?: number;
  /** Archive members inspected per message, all archives together. Default 1 000. */
  readonly maxMembers?: number;
  /** Bytes inflated for one member (nested archives need all of theirs). Default 10 MiB. */
  readonly maxMemberBytes?: number;
  /** Bytes inflated per message, all members together. Default 50 MiB. */
  readonly maxTotalInflatedBytes?: number;
  /** Pipeline budget. Default 5 000 ms. */
  readonly timeoutMs?: number;
  readonly scores?: Readonly<Partial<Record<AttachmentSymbol, number>>>;
}

const EXECUTABLE_EXT = new Set([
  'exe',
  'scr',
  'com',
  'pif',
  'cpl',
  'dll',
  'msi',
  'msp',
  'mst',
  'jar',
  'apk',
  'app',
  'gadget',
  'msix',
  'appx',
  'xll',
  'sys',
  'drv',
  'ocx',
]);
const SCRIPT_EXT = new Set([
  'js',
  'jse',
  'vbs',
  'vbe',
  'vb',
  'wsf',
  'wsh',
  'wsc',
  'hta',
  'ps1',
  'psm1',
  'psd1',
  'bat',
  'cmd',
  'sh',
  'reg',
  'scf',
  'inf',
  'msc',
  'chm',
  'py',
  'pl',
  'applescript',
  'scpt',
]);
const HTML_EXT = new Set(['htm', 'html', 'shtml', 'xhtml', 'mht', 'mhtml', 'svg', 'svgz']);
const SHORTCUT_EXT = new Set(['lnk', 'url', 'desktop', 'website', 'settingcontent-ms']);
const DISK_IMAGE_EXT = new Set(['iso', 'img', 'vhd', 'vhdx', 'dmg', 'udf']);
/** Extensions a lure puts before the real one to look harmless. */
const DECOY_EXT = new Set([
  'pdf',
  'doc',
  'docx',
  'xls',
  'xlsx',
  'ppt',
  'pptx',
  'txt',
  'rtf',
  'jpg',
  'jpeg',
  'png',
  'gif',
  'zip',
  'csv',
  'odt',
  'mp3',
  'mp4',
  'wav',
  'htm',
  'html',
]);
/** What a name's extension promises, for the mismatch check. */
const EXT_TYPES: Readonly<Record<string, readonly string[]>> = {
  pdf: [FileTypes.pdf],
  jpg: [FileTypes.jpeg],
  jpeg: [FileTypes.jpeg],
  png: [FileTypes.png],
  gif: [FileTypes.gif],
  doc: [FileTypes.ole, FileTypes.rtf],
  xls: [FileTypes.ole],
  ppt: [FileTypes.ole],
  docx: [FileTypes.docx, FileTypes.zip],
  xlsx: [FileTypes.xlsx, FileTypes.zip],
  pptx: [FileTypes.pptx, FileTypes.zip],
  zip: [FileTypes.zip, FileTypes.jar, FileTypes.docx, FileTypes.xlsx, FileTypes.pptx],
  txt: [],
  rtf: [FileTypes.rtf],
};
/** Detected types that make a mismatch worth reporting (content that acts, not just differs). */
const ACTIVE_TYPES = new Set<string>([
  FileTypes.exe,
  FileTypes.elf,
  FileTypes.macho,
  FileTypes.jar,
  FileTypes.lnk,
  FileTypes.html,
  FileTypes.svg,
  FileTypes.script,
  FileTypes.iso,
  FileTypes.vhd,
]);

interface Limits {
  readonly maxDepth: number;
  readonly maxMembers: number;
  readonly maxMemberBytes: number;
  readonly maxTotalInflatedBytes: number;
}

interface Walk {
  readonly infos: AttachmentInfo[];
  /** symbol → evidence items (one finding per symbol, so scores do not stack per file). */
  readonly hits: Map<AttachmentSymbol, string[]>;
  members: number;
  inflated: number;
}

export function createAttachmentScanner(options: AttachmentScannerOptions = {}): Scanner {
  const limits: Limits = {
    maxDepth: options.maxDepth ?? 3,
    maxMembers: options.maxMembers ?? 1_000,
    maxMemberBytes: options.maxMemberBytes ?? 10 * 1024 * 1024,
    maxTotalInflatedBytes: options.maxTotalInflatedBytes ?? 50 * 1024 * 1024,
  };
  const score = (symbol: AttachmentSymbol): number =>
    options.scores?.[symbol] ?? ATTACHMENT_SYMBOL_TABLE[symbol].defaultScore;
  return {
    name: 'attachments',
    phase: 'content',
    timeoutMs: options.timeoutMs ?? 5_000,
    onError: 'skip',
    scan: async (message: Message): Promise<ScannerOutput> => {
      // A single-part text message has no attachments: skip the MIME parse (hot path).
      const type = (message.headers.getFirst('content-type') ?? 'text/plain').toLowerCase();
      if (type.startsWith('text/')) return { findings: [], facts: { attachments: [] } };
      let mime;
      try {
        mime = await message.mime();
      } catch (err) {
        return {
          findings: [],
          facts: {
            attachments: [],
            unscannable: `MIME structure could not be parsed: ${String(err)}`,
          },
        };
      }
      const walk: Walk = { infos: [], hits: new Map(), members: 0, inflated: 0 };
      await inspectMimeParts(walk, limits, mime.attachments, 0, '');
      const findings: Finding[] = [];
      for (const [symbol, evidence] of walk.hits) {
        const shown =
          evidence.slice(0, 3).join('; ') +
          (evidence.length > 3 ? `; +${String(evidence.length - 3)} more` : '');
        findings.push({ symbol, score: score(symbol), evidence: shown });
      }
      return { findings, facts: { attachments: walk.infos } };
    },
  };
}

/**
 * MIME attachments, and the attachments of attached messages (message/rfc822, which the MIME
 * view keeps opaque): a forwarded message is one more nesting level, under the same limits.
 */
async function inspectMimeParts(
  walk: Walk,
  limits: Limits,
  parts: readonly MimeAttachment[],
  depth: number,
  prefix: string,
): Promise<void> {
  for (const part of parts) {
    const path = prefix + (part.filename ?? '(unnamed)');
    const declaredType = part.mimeType.toLowerCase();
    inspectFile(walk, limits, {
      filename: part.filename,
      declaredType,
      content: part.content,
      size: part.size,
      depth,
      path,
    });
    if (declaredType !== 'message/rfc822') continue;
    if (depth + 1 > limits.maxDepth) {
      hit(walk, 'ARCHIVE_LIMIT', `${path}: nested deeper than ${String(limits.maxDepth)}`);
      continue;
    }
    let inner;
    try {
      inner = await parseMime(
        Buffer.from(part.content.buffer, part.content.byteOffset, part.content.byteLength),
      );
    } catch {
      hit(walk, 'ARCHIVE_CORRUPT', `${path}: attached message could not be parsed`);
      continue;
    }
    await inspectMimeParts(walk, limits, inner.attachments, depth + 1, `${path}/`);
  }
}

interface FileUnderInspection {
  readonly filename: string | null;
  readonly declaredType: string;
  /** The content, or the first bytes of it (sizes above the member limit). */
  readonly content: Uint8Array;
  readonly size: number;
  readonly depth: number;
  /** "outer.zip/inner.zip/run.exe", for evidence. */
  readonly path: string;
  readonly encrypted?: boolean;
}

function hit(walk: Walk, symbol: AttachmentSymbol, evidence: string): void {
  const list = walk.hits.get(symbol);
  if (list === undefined) walk.hits.set(symbol, [evidence]);
  else if (!list.includes(evidence)) list.push(evidence);
}

function inspectFile(walk: Walk, limits: Limits, file: FileUnderInspection): void {
  const encrypted = file.encrypted === true;
  let detected = encrypted ? null : detectFileType(file.content.subarray(0, FILE_TYPE_SNIFF_BYTES));
  let zipListing: ReturnType<typeof listZipEntries> | null = null;
  if (detected === FileTypes.zip) {
    zipListing = listZipEntries(file.content, limits.maxMembers - walk.members + 1);
    if (zipListing.kind === 'ok') detected = refineZipType(zipListing.entries.map((e) => e.name));
  }
  walk.infos.push({
    filename: file.filename,
    declaredType: file.declaredType,
    detectedType: detected,
    sizeBytes: file.size,
    depth: file.depth,
    encrypted,
  });
  checkNameAndType(walk, file, detected);
  if (encrypted) hit(walk, 'ARCHIVE_ENCRYPTED', file.path);
  if (zipListing === null || (detected !== FileTypes.zip && detected !== FileTypes.jar)) return;
  if (zipListing.kind === 'corrupt') {
    hit(walk, 'ARCHIVE_CORRUPT', `${file.path}: ${zipListing.reason}`);
    return;
  }
  if (file.depth + 1 > limits.maxDepth) {
    hit(walk, 'ARCHIVE_LIMIT', `${file.path}: nested deeper than ${String(limits.maxDepth)}`);
    return;
  }
  if (file.content.length < file.size) {
    hit(walk, 'ARCHIVE_LIMIT', `${file.path}: larger than the inflate budget`);
    return;
  }
  for (const entry of zipListing.entries) {
    if (entry.isDirectory) continue;
    if (walk.members >= limits.maxMembers) {
      hit(walk, 'ARCHIVE_LIMIT', `more than ${String(limits.maxMembers)} archive members`);
      return;
    }
    walk.members++;
    const budget = Math.max(
      0,
      Math.min(limits.maxMemberBytes, limits.maxTotalInflatedBytes - walk.inflated),
    );
    // The first bytes tell the type; only a nested archive needs all of its bytes.
    let content =
      readZipEntry(file.content, entry, Math.min(budget, FILE_TYPE_SNIFF_BYTES)) ??
      new Uint8Array(0);
    if (detectFileType(content) === FileTypes.zip && entry.uncompressedSize > content.length) {
      content = readZipEntry(file.content, entry, budget) ?? content;
    }
    walk.inflated += content.length;
    if (walk.inflated >= limits.maxTotalInflatedBytes) {
      hit(walk, 'ARCHIVE_LIMIT', `over ${String(limits.maxTotalInflatedBytes)} inflated bytes`);
    }
    // A nested archive cut by the budget shows as content shorter than its size (a limit hit).
    inspectFile(walk, limits, {
      filename: entry.name,
      declaredType: '',
      content,
      size: entry.uncompressedSize,
      depth: file.depth + 1,
      path: `${file.path}/${entry.name}`,
      encrypted: entry.encrypted,
    });
  }
  if (zipListing.truncated) {
    hit(walk, 'ARCHIVE_LIMIT', `more than ${String(limits.maxMembers)} archive members`);
  }
}

function extensionsOf(filename: string): string[] {
  const base = filename.split(/[\\/]/).pop() ?? filename;
  return base
    .toLowerCase()
    .split('.')
    .slice(1)
    .map((e) => e.trim());
}

function checkNameAndType(walk: Walk, file: FileUnderInspection, detected: string | null): void {
  const name = file.filename ?? '';
  const exts = extensionsOf(name);
  const ext = exts[exts.length - 1] ?? '';
  const where = file.path;
  if (isExecutableType(detected) || detected === FileTypes.script) {
    hit(walk, 'FILE_EXECUTABLE_CONTENT', `${where} (${detected ?? ''})`);
  }
  if (detected === FileTypes.iso || detected === FileTypes.vhd) {
    hit(walk, 'FILE_DISK_IMAGE_CONTENT', `${where} (${detected})`);
  }
  const dangerous =
    EXECUTABLE_EXT.has(ext) ||
    SCRIPT_EXT.has(ext) ||
    SHORTCUT_EXT.has(ext) ||
    HTML_EXT.has(ext) ||
    DISK_IMAGE_EXT.has(ext);
  // Names of the message's own parts are the rule catalogue's (ATTACH_*); nested ones are ours.
  if (file.depth > 0) {
    if (dangerous) hit(walk, 'NESTED_DANGEROUS_NAME', where);
    const decoy = exts.length >= 2 && DECOY_EXT.has(exts[exts.length - 2] ?? '') && dangerous;
    // U+202E RIGHT-TO-LEFT OVERRIDE makes "invoice\u202Efdp.exe" display as "invoiceexe.pdf".
    const bidi = /[\u202a-\u202e\u2066-\u2069]/.test(name);
    const padded = dangerous && /\s{3,}\.?[^.\s]+$|_{5,}\.[^.]+$/.test(name);
    if (decoy || bidi || padded) hit(walk, 'NESTED_DOUBLE_EXT', where);
  }
  if (detected !== null && ACTIVE_TYPES.has(detected)) {
    const promised = EXT_TYPES[ext];
    const declared = file.declaredType;
    const declaredInnocent =
      declared.startsWith('image/') ||
      declared === 'application/pdf' ||
      declared === 'text/plain' ||
      declared.includes('word') ||
      declared.includes('excel') ||
      declared.includes('spreadsheet');
    if ((promised !== undefined && !promised.includes(detected)) || declaredInnocent) {
      hit(
        walk,
        'FILE_TYPE_MISMATCH',
        `${where}: ${declared === '' ? ext : declared} is ${detected}`,
      );
    }
  }
}
