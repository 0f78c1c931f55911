/**
 * File types by content (magic bytes), for attachments and archive members: the type a file
 * really is, whatever its name and declared Content-Type say. Pure; looks at most at the first
 * 33 KiB (the ISO 9660 volume descriptor sits at 32 769).
 */

/** Detected types this module reports (MIME-style names). */
export const FileTypes = {
  exe: 'application/x-dosexec',
  elf: 'application/x-executable',
  macho: 'application/x-mach-binary',
  zip: 'application/zip',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  jar: 'application/java-archive',
  rar: 'application/vnd.rar',
  sevenZip: 'application/x-7z-compressed',
  gzip: 'application/gzip',
  bzip2: 'application/x-bzip2',
  xz: 'application/x-xz',
  cab: 'application/vnd.ms-cab-compressed',
  pdf: 'application/pdf',
  ole: 'application/x-ole-storage',
  rtf: 'application/rtf',
  html: 'text/html',
  svg: 'image/svg+xml',
  script: 'text/x-script',
  iso: 'application/x-iso9660-image',
  vhd: 'application/x-vhd',
  lnk: 'application/x-ms-shortcut',
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
} as const;

export type FileType = (typeof FileTypes)[keyof typeof FileTypes];

/** Bytes detectFileType may look at. */
export const FILE_TYPE_SNIFF_BYTES = 32_774;

function startsWith(bytes: Uint8Array, magic: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[offset + i] !== magic[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  const end = Math.min(to, bytes.length);
  if (from >= end) return '';
  return Buffer.from(bytes.buffer, bytes.byteOffset + from, end - from).toString('latin1');
}

/** The type of `bytes` by content, or null when nothing known matches. */
export function detectFileType(bytes: Uint8Array): FileType | null {
  if (bytes.length < 2) return null;
  if (startsWith(bytes, [0x4d, 0x5a])) return FileTypes.exe; // "MZ": DOS/PE executable
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return FileTypes.elf;
  if (
    startsWith(bytes, [0xfe, 0xed, 0xfa, 0xce]) ||
    startsWith(bytes, [0xfe, 0xed, 0xfa, 0xcf]) ||
    startsWith(bytes, [0xce, 0xfa, 0xed, 0xfe]) ||
    startsWith(bytes, [0xcf, 0xfa, 0xed, 0xfe])
  ) {
    return FileTypes.macho;
  }
  // 0xCAFEBABE is both a Mach-O universal binary and a Java class: a universal binary has a
  // small architecture count where a class file has its version (≥ 45).
  if (startsWith(bytes, [0xca, 0xfe, 0xba, 0xbe]) && bytes.length >= 8) {
    const count =
      ((bytes[4] ?? 0) << 24) | ((bytes[5] ?? 0) << 16) | ((bytes[6] ?? 0) << 8) | (bytes[7] ?? 0);
    if (count > 0 && count < 20) return FileTypes.macho;
  }
  if (
    startsWith(bytes, [0x50, 0x4b]) &&
    [0x0304, 0x0506, 0x0708].includes(((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0))
  ) {
    return FileTypes.zip;
  }
  if (startsWith(bytes, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07])) return FileTypes.rar;
  if (startsWith(bytes, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return FileTypes.sevenZip;
  if (startsWith(bytes, [0x1f, 0x8b])) return FileTypes.gzip;
  if (startsWith(bytes, [0x42, 0x5a, 0x68])) return FileTypes.bzip2;
  if (startsWith(bytes, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return FileTypes.xz;
  if (startsWith(bytes, [0x4d, 0x53, 0x43, 0x46])) return FileTypes.cab; // "MSCF"
  if (startsWith(bytes, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return FileTypes.ole;
  if (startsWith(bytes, [0x4c, 0x00, 0x00, 0x00, 0x01, 0x14, 0x02, 0x00])) return FileTypes.lnk;
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47])) return FileTypes.png;
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return FileTypes.jpeg;
  if (ascii(bytes, 0, 4) === 'GIF8') return FileTypes.gif;
  if (ascii(bytes, 0, 8) === 'conectix' || ascii(bytes, 0, 8) === 'vhdxfile') return FileTypes.vhd;
  if (ascii(bytes, 32_769, 32_774) === 'CD001') return FileTypes.iso;
  // PDF readers accept the header anywhere in the first KiB.
  if (ascii(bytes, 0, 1024).includes('%PDF-')) return FileTypes.pdf;
  if (ascii(bytes, 0, 5) === '{\\rtf') return FileTypes.rtf;
  if (ascii(bytes, 0, 2) === '#!') return FileTypes.script;
  return detectMarkup(ascii(bytes, 0, 1024));
}

function detectMarkup(head: string): FileType | null {
  const text = head
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .trimStart()
    .toLowerCase();
  if (!text.startsWith('<')) return null;
  if (/^<svg[\s>]/.test(text) || (text.startsWith('<?xml') && text.includes('<svg'))) {
    return FileTypes.svg;
  }
  if (
    /^<(?:!doctype html|html|head|body|script|iframe|meta|form|title|div|p|a|table)[\s>]/.test(text)
  ) {
    return FileTypes.html;
  }
  if (/<(?:html|script|body)[\s>]/.test(text)) return FileTypes.html;
  return null;
}

/** Refines a zip by its member names: OOXML documents and Java archives are zips too. */
export function refineZipType(memberNames: readonly string[]): FileType {
  const names = new Set(memberNames);
  if (names.has('[Content_Types].xml')) {
    if (memberNames.some((n) => n.startsWith('word/'))) return FileTypes.docx;
    if (memberNames.some((n) => n.startsWith('xl/'))) return FileTypes.xlsx;
    if (memberNames.some((n) => n.startsWith('ppt/'))) return FileTypes.pptx;
  }
  if (names.has('META-INF/MANIFEST.MF')) return FileTypes.jar;
  return FileTypes.zip;
}

/** Types that run code when opened (or are containers made to smuggle such files). */
export function isExecutableType(type: string | null): boolean {
  return (
    type === FileTypes.exe ||
    type === FileTypes.elf ||
    type === FileTypes.macho ||
    type === FileTypes.jar ||
    type === FileTypes.lnk
  );
}
