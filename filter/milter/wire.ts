/**
 * Sendmail milter protocol (v2–v6) wire format: codes, typed commands and replies, and pure
 * encode/decode of the payload of one frame. No sockets, files or timers (STYLE.md B2).
 *
 * Every frame on the wire is `uint32 length (big endian) | uint8 code | payload`, where
 * `length` counts the code byte plus the payload. Strings are NUL-terminated; integers are
 * network byte order. The frame boundary itself is handled by frame-decoder.ts; this file
 * turns one (code, payload) pair into a `MilterCommand` and a `MilterReply` into bytes.
 *
 * Sources for the codes (read for facts, nothing copied): sendmail libmilter `mfdef.h`,
 * Postfix `src/milter/milter8.c`, emersion/go-milter `milter-protocol.txt`. See PROTOCOL.md.
 */
import { ParapetError } from '../errors.js';
import type { SmtpReply } from '../smtp/reply.js';

/** Commands sent by the MTA (SMFIC_*). */
export const MilterCommandCode = {
  Abort: 0x41, // SMFIC_ABORT 'A'
  Body: 0x42, // SMFIC_BODY 'B'
  Connect: 0x43, // SMFIC_CONNECT 'C'
  Macro: 0x44, // SMFIC_MACRO 'D'
  EndOfMessage: 0x45, // SMFIC_BODYEOB 'E'
  Helo: 0x48, // SMFIC_HELO 'H'
  QuitNewConnection: 0x4b, // SMFIC_QUIT_NC 'K' [v6]
  Header: 0x4c, // SMFIC_HEADER 'L'
  Mail: 0x4d, // SMFIC_MAIL 'M'
  EndOfHeaders: 0x4e, // SMFIC_EOH 'N'
  OptionNegotiation: 0x4f, // SMFIC_OPTNEG 'O'
  Quit: 0x51, // SMFIC_QUIT 'Q'
  Rcpt: 0x52, // SMFIC_RCPT 'R'
  Data: 0x54, // SMFIC_DATA 'T' [v4]
  Unknown: 0x55, // SMFIC_UNKNOWN 'U' [v3]
} as const;
export type MilterCommandCodeValue = (typeof MilterCommandCode)[keyof typeof MilterCommandCode];

/** Replies sent by the filter (SMFIR_*). */
export const MilterReplyCode = {
  AddRecipient: 0x2b, // SMFIR_ADDRCPT '+'
  DeleteRecipient: 0x2d, // SMFIR_DELRCPT '-'
  AddRecipientWithArgs: 0x32, // SMFIR_ADDRCPT_PAR '2' [v6]
  Shutdown: 0x34, // SMFIR_SHUTDOWN '4'
  OptionNegotiation: 0x4f, // SMFIC_OPTNEG 'O' (the reply reuses the command code)
  Accept: 0x61, // SMFIR_ACCEPT 'a'
  ReplaceBody: 0x62, // SMFIR_REPLBODY 'b'
  Continue: 0x63, // SMFIR_CONTINUE 'c'
  Discard: 0x64, // SMFIR_DISCARD 'd'
  ChangeFrom: 0x65, // SMFIR_CHGFROM 'e' [v6]
  ConnectionFail: 0x66, // SMFIR_CONN_FAIL 'f'
  AddHeader: 0x68, // SMFIR_ADDHEADER 'h'
  InsertHeader: 0x69, // SMFIR_INSHEADER 'i'
  SetSymbolList: 0x6c, // SMFIR_SETSYMLIST 'l' [v6]
  ChangeHeader: 0x6d, // SMFIR_CHGHEADER 'm'
  Progress: 0x70, // SMFIR_PROGRESS 'p'
  Quarantine: 0x71, // SMFIR_QUARANTINE 'q'
  Reject: 0x72, // SMFIR_REJECT 'r'
  Skip: 0x73, // SMFIR_SKIP 's' [v6]
  Tempfail: 0x74, // SMFIR_TEMPFAIL 't'
  ReplyCode: 0x79, // SMFIR_REPLYCODE 'y'
} as const;
export type MilterReplyCodeValue = (typeof MilterReplyCode)[keyof typeof MilterReplyCode];

/** Actions the filter may take at end of message (SMFIF_*), negotiated in SMFIC_OPTNEG. */
export const MilterActionFlag = {
  AddHeaders: 0x001, // SMFIF_ADDHDRS
  ChangeBody: 0x002, // SMFIF_CHGBODY
  AddRecipient: 0x004, // SMFIF_ADDRCPT
  DeleteRecipient: 0x008, // SMFIF_DELRCPT
  ChangeHeaders: 0x010, // SMFIF_CHGHDRS
  Quarantine: 0x020, // SMFIF_QUARANTINE
  ChangeFrom: 0x040, // SMFIF_CHGFROM [v6]
  AddRecipientWithArgs: 0x080, // SMFIF_ADDRCPT_PAR [v6]
  SetSymbolList: 0x100, // SMFIF_SETSYMLIST [v6]
} as const;

/** Protocol steps and options (SMFIP_*), negotiated in SMFIC_OPTNEG. */
export const MilterProtocolFlag = {
  NoConnect: 0x000001, // SMFIP_NOCONNECT
  NoHelo: 0x000002, // SMFIP_NOHELO
  NoMail: 0x000004, // SMFIP_NOMAIL
  NoRcpt: 0x000008, // SMFIP_NORCPT
  NoBody: 0x000010, // SMFIP_NOBODY
  NoHeaders: 0x000020, // SMFIP_NOHDRS
  NoEndOfHeaders: 0x000040, // SMFIP_NOEOH
  NoReplyHeader: 0x000080, // SMFIP_NR_HDR (SMFIP_NOHREPL)
  NoUnknown: 0x000100, // SMFIP_NOUNKNOWN [v3]
  NoData: 0x000200, // SMFIP_NODATA [v4]
  Skip: 0x000400, // SMFIP_SKIP [v6]
  RcptRejected: 0x000800, // SMFIP_RCPT_REJ [v6]
  NoReplyConnect: 0x001000, // SMFIP_NR_CONN [v6]
  NoReplyHelo: 0x002000, // SMFIP_NR_HELO [v6]
  NoReplyMail: 0x004000, // SMFIP_NR_MAIL [v6]
  NoReplyRcpt: 0x008000, // SMFIP_NR_RCPT [v6]
  NoReplyData: 0x010000, // SMFIP_NR_DATA [v6]
  NoReplyUnknown: 0x020000, // SMFIP_NR_UNKN [v6]
  NoReplyEndOfHeaders: 0x040000, // SMFIP_NR_EOH [v6]
  NoReplyBody: 0x080000, // SMFIP_NR_BODY [v6]
  HeaderLeadingSpace: 0x100000, // SMFIP_HDR_LEADSPC [v6]
  MaxDataSize256K: 0x10000000, // SMFIP_MDS_256K [v6]
  MaxDataSize1M: 0x20000000, // SMFIP_MDS_1M [v6]
} as const;

/** Macro stages of SMFIR_SETSYMLIST (SMFIM_*) [v6]. Note EOM (5) comes before EOH (6). */
export const MilterMacroStage = {
  Connect: 0, // SMFIM_CONNECT
  Helo: 1, // SMFIM_HELO
  MailFrom: 2, // SMFIM_ENVFROM
  RcptTo: 3, // SMFIM_ENVRCPT
  Data: 4, // SMFIM_DATA
  EndOfMessage: 5, // SMFIM_EOM
  EndOfHeaders: 6, // SMFIM_EOH
} as const;
export type MilterMacroStageValue = (typeof MilterMacroStage)[keyof typeof MilterMacroStage];

/** Address families of SMFIC_CONNECT (SMFIA_*). */
export const MilterAddressFamily = {
  unknown: 0x55, // SMFIA_UNKNOWN 'U' (no port, no address follow)
  unix: 0x4c, // SMFIA_UNIX 'L' (port 0 and a socket path follow)
  inet: 0x34, // SMFIA_INET '4'
  inet6: 0x36, // SMFIA_INET6 '6'
} as const;
export type MilterAddressFamilyName = keyof typeof MilterAddressFamily;

const COMMAND_NAMES: ReadonlyMap<number, string> = new Map([
  [MilterCommandCode.Abort, 'SMFIC_ABORT'],
  [MilterCommandCode.Body, 'SMFIC_BODY'],
  [MilterCommandCode.Connect, 'SMFIC_CONNECT'],
  [MilterCommandCode.Macro, 'SMFIC_MACRO'],
  [MilterCommandCode.EndOfMessage, 'SMFIC_BODYEOB'],
  [MilterCommandCode.Helo, 'SMFIC_HELO'],
  [MilterCommandCode.QuitNewConnection, 'SMFIC_QUIT_NC'],
  [MilterCommandCode.Header, 'SMFIC_HEADER'],
  [MilterCommandCode.Mail, 'SMFIC_MAIL'],
  [MilterCommandCode.EndOfHeaders, 'SMFIC_EOH'],
  [MilterCommandCode.OptionNegotiation, 'SMFIC_OPTNEG'],
  [MilterCommandCode.Quit, 'SMFIC_QUIT'],
  [MilterCommandCode.Rcpt, 'SMFIC_RCPT'],
  [MilterCommandCode.Data, 'SMFIC_DATA'],
  [MilterCommandCode.Unknown, 'SMFIC_UNKNOWN'],
]);

const REPLY_NAMES: ReadonlyMap<number, string> = new Map([
  [MilterReplyCode.AddRecipient, 'SMFIR_ADDRCPT'],
  [MilterReplyCode.DeleteRecipient, 'SMFIR_DELRCPT'],
  [MilterReplyCode.AddRecipientWithArgs, 'SMFIR_ADDRCPT_PAR'],
  [MilterReplyCode.Shutdown, 'SMFIR_SHUTDOWN'],
  [MilterReplyCode.OptionNegotiation, 'SMFIC_OPTNEG'],
  [MilterReplyCode.Accept, 'SMFIR_ACCEPT'],
  [MilterReplyCode.ReplaceBody, 'SMFIR_REPLBODY'],
  [MilterReplyCode.Continue, 'SMFIR_CONTINUE'],
  [MilterReplyCode.Discard, 'SMFIR_DISCARD'],
  [MilterReplyCode.ChangeFrom, 'SMFIR_CHGFROM'],
  [MilterReplyCode.ConnectionFail, 'SMFIR_CONN_FAIL'],
  [MilterReplyCode.AddHeader, 'SMFIR_ADDHEADER'],
  [MilterReplyCode.InsertHeader, 'SMFIR_INSHEADER'],
  [MilterReplyCode.SetSymbolList, 'SMFIR_SETSYMLIST'],
  [MilterReplyCode.ChangeHeader, 'SMFIR_CHGHEADER'],
  [MilterReplyCode.Progress, 'SMFIR_PROGRESS'],
  [MilterReplyCode.Quarantine, 'SMFIR_QUARANTINE'],
  [MilterReplyCode.Reject, 'SMFIR_REJECT'],
  [MilterReplyCode.Skip, 'SMFIR_SKIP'],
  [MilterReplyCode.Tempfail, 'SMFIR_TEMPFAIL'],
  [MilterReplyCode.ReplyCode, 'SMFIR_REPLYCODE'],
]);

/** The spec name of a command code for logs (`SMFIC_RCPT`), or `SMFIC_? 0xNN` when unknown. */
export function milterCommandName(code: number): string {
  return COMMAND_NAMES.get(code) ?? `SMFIC_? 0x${code.toString(16).padStart(2, '0')}`;
}

/** The spec name of a reply code for logs (`SMFIR_ADDHEADER`), or `SMFIR_? 0xNN`. */
export function milterReplyName(code: number): string {
  return REPLY_NAMES.get(code) ?? `SMFIR_? 0x${code.toString(16).padStart(2, '0')}`;
}

/** One frame: the code byte and its payload (the bytes after the code). */
export interface MilterFrame {
  readonly code: number;
  readonly payload: Buffer;
}

/** A decoded MTA → filter command. Strings are decoded as UTF-8. */
export type MilterCommand =
  | {
      readonly kind: 'optneg';
      readonly version: number;
      readonly actions: number;
      readonly protocol: number;
    }
  /** Macros for the command whose code is `stage` (e.g. 0x43 for connect); name → value. */
  | {
      readonly kind: 'macro';
      readonly stage: number;
      readonly macros: readonly (readonly [string, string])[];
    }
  | {
      readonly kind: 'connect';
      readonly hostname: string;
      readonly family: MilterAddressFamilyName;
      /** null for family `unknown`; 0 for `unix`. */
      readonly port: number | null;
      /** IP address text, socket path (unix), or null for family `unknown`. */
      readonly address: string | null;
    }
  | { readonly kind: 'helo'; readonly name: string }
  /** args[0] is the address as given ("<a@b>"), the rest ESMTP parameters ("SIZE=10"). */
  | { readonly kind: 'mail'; readonly args: readonly string[] }
  | { readonly kind: 'rcpt'; readonly args: readonly string[] }
  | { readonly kind: 'data' }
  /** The value keeps the MTA's bytes (folded lines separated by LF, see PROTOCOL.md). */
  | { readonly kind: 'header'; readonly name: string; readonly value: Buffer }
  | { readonly kind: 'eoh' }
  | { readonly kind: 'body'; readonly chunk: Buffer }
  /** SMFIC_BODYEOB; a non-empty chunk is a final body chunk (sendmail may send one). */
  | { readonly kind: 'eom'; readonly chunk: Buffer }
  | { readonly kind: 'abort' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'quitNc' }
  | { readonly kind: 'unknown'; readonly command: string };

export type MilterCommandKind = MilterCommand['kind'];

/** One macro-name list of the option negotiation reply (v6). */
export interface MilterSymbolList {
  readonly stage: MilterMacroStageValue;
  /** Space-separated macro names, e.g. `i {auth_authen}`. */
  readonly macros: string;
}

/** A filter → MTA reply. */
export type MilterReply =
  | {
      readonly kind: 'optneg';
      readonly version: number;
      readonly actions: number;
      readonly protocol: number;
      readonly symbolLists: readonly MilterSymbolList[];
    }
  | { readonly kind: 'accept' }
  | { readonly kind: 'continue' }
  | { readonly kind: 'discard' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'tempfail' }
  | { readonly kind: 'shutdown' }
  | { readonly kind: 'connectionFail' }
  | { readonly kind: 'progress' }
  | { readonly kind: 'skip' }
  /** Full SMTP reply text, "550 5.7.1 text" (multi-line: CRLF between lines, none at the end). */
  | { readonly kind: 'replyCode'; readonly text: string }
  | { readonly kind: 'addHeader'; readonly name: string; readonly value: string }
  /** index 0 = top of the header block. */
  | {
      readonly kind: 'insertHeader';
      readonly index: number;
      readonly name: string;
      readonly value: string;
    }
  /** index is the 1-based occurrence of `name`; an empty value deletes the field. */
  | {
      readonly kind: 'changeHeader';
      readonly index: number;
      readonly name: string;
      readonly value: string;
    }
  | { readonly kind: 'addRecipient'; readonly address: string }
  | { readonly kind: 'addRecipientWithArgs'; readonly address: string; readonly args: string }
  | { readonly kind: 'deleteRecipient'; readonly address: string }
  | { readonly kind: 'changeFrom'; readonly address: string; readonly args: string | null }
  | { readonly kind: 'replaceBody'; readonly chunk: Buffer }
  | { readonly kind: 'quarantine'; readonly reason: string }
  | {
      readonly kind: 'setSymbolList';
      readonly stage: MilterMacroStageValue;
      readonly macros: string;
    };

export type MilterReplyKind = MilterReply['kind'];

/** Largest body chunk the MTA sends and the largest SMFIR_REPLBODY chunk we send (mfdef.h). */
export const MILTER_CHUNK_BYTES = 65535;

function invalid(what: string, code: number): ParapetError {
  return new ParapetError('ERR_MILTER_FRAME_INVALID', `${milterCommandName(code)}: ${what}`);
}

/** Sequential reader over one payload; every shortfall is ERR_MILTER_FRAME_INVALID. */
class PayloadReader {
  readonly #buf: Buffer;
  readonly #code: number;
  #pos = 0;

  constructor(buf: Buffer, code: number) {
    this.#buf = buf;
    this.#code = code;
  }

  atEnd(): boolean {
    return this.#pos >= this.#buf.length;
  }

  uint32(): number {
    if (this.#pos + 4 > this.#buf.length) throw invalid('payload too short for uint32', this.#code);
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  uint16(): number {
    if (this.#pos + 2 > this.#buf.length) throw invalid('payload too short for uint16', this.#code);
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  byte(): number {
    const v = this.#buf[this.#pos];
    if (v === undefined) throw invalid('payload too short for a byte', this.#code);
    this.#pos += 1;
    return v;
  }

  cstringBytes(): Buffer {
    const end = this.#buf.indexOf(0, this.#pos);
    if (end < 0) throw invalid('string without NUL terminator', this.#code);
    const out = this.#buf.subarray(this.#pos, end);
    this.#pos = end + 1;
    return out;
  }

  cstring(): string {
    return this.cstringBytes().toString('utf8');
  }

  rest(): Buffer {
    const out = this.#buf.subarray(this.#pos);
    this.#pos = this.#buf.length;
    return out;
  }

  end(): void {
    if (!this.atEnd()) throw invalid('unexpected bytes after payload', this.#code);
  }
}

const FAMILY_BY_BYTE: ReadonlyMap<number, MilterAddressFamilyName> = new Map([
  [MilterAddressFamily.unknown, 'unknown'],
  [MilterAddressFamily.unix, 'unix'],
  [MilterAddressFamily.inet, 'inet'],
  [MilterAddressFamily.inet6, 'inet6'],
]);

function readArgv(r: PayloadReader, code: number): string[] {
  const args: string[] = [];
  while (!r.atEnd()) args.push(r.cstring());
  if (args.length === 0) throw invalid('no arguments', code);
  return args;
}

function emptyCommand<K extends 'data' | 'eoh' | 'abort' | 'quit' | 'quitNc'>(
  payload: Buffer,
  code: number,
  kind: K,
): { readonly kind: K } {
  if (payload.length !== 0) throw invalid('unexpected payload', code);
  return { kind };
}

/**
 * Decodes one MTA command frame. Called by the session for every frame the decoder yields.
 * Throws ParapetError ERR_MILTER_FRAME_INVALID for an unknown code or a malformed payload;
 * never throws anything else.
 */
export function decodeMilterCommand(frame: MilterFrame): MilterCommand {
  const { code, payload } = frame;
  const r = new PayloadReader(payload, code);
  switch (code) {
    case MilterCommandCode.OptionNegotiation: {
      const version = r.uint32();
      const actions = r.uint32();
      const protocol = r.uint32();
      // libmilter tolerates (and ignores) bytes after the three words; so do we.
      return { kind: 'optneg', version, actions, protocol };
    }
    case MilterCommandCode.Macro: {
      const stage = r.byte();
      const macros: (readonly [string, string])[] = [];
      while (!r.atEnd()) {
        const name = r.cstring();
        if (r.atEnd()) throw invalid('macro name without value', code);
        macros.push([name, r.cstring()]);
      }
      return { kind: 'macro', stage, macros };
    }
    case MilterCommandCode.Connect: {
      const hostname = r.cstring();
      const familyByte = r.byte();
      const family = FAMILY_BY_BYTE.get(familyByte);
      if (family === undefined) throw invalid(`unknown address family ${familyByte}`, code);
      if (family === 'unknown') {
        r.end();
        return { kind: 'connect', hostname, family, port: null, address: null };
      }
      const port = r.uint16();
      const address = r.cstring();
      r.end();
      return { kind: 'connect', hostname, family, port, address };
    }
    case MilterCommandCode.Helo: {
      const name = r.cstring();
      r.end();
      return { kind: 'helo', name };
    }
    case MilterCommandCode.Mail:
      return { kind: 'mail', args: readArgv(r, code) };
    case MilterCommandCode.Rcpt:
      return { kind: 'rcpt', args: readArgv(r, code) };
    case MilterCommandCode.Header: {
      const name = r.cstring();
      const value = Buffer.from(r.cstringBytes());
      r.end();
      return { kind: 'header', name, value };
    }
    case MilterCommandCode.Body:
      return { kind: 'body', chunk: r.rest() };
    case MilterCommandCode.EndOfMessage:
      return { kind: 'eom', chunk: r.rest() };
    case MilterCommandCode.Unknown: {
      const command = r.cstring();
      r.end();
      return { kind: 'unknown', command };
    }
    case MilterCommandCode.Data:
      return emptyCommand(payload, code, 'data');
    case MilterCommandCode.EndOfHeaders:
      return emptyCommand(payload, code, 'eoh');
    case MilterCommandCode.Abort:
      return emptyCommand(payload, code, 'abort');
    case MilterCommandCode.Quit:
      return emptyCommand(payload, code, 'quit');
    case MilterCommandCode.QuitNewConnection:
      return emptyCommand(payload, code, 'quitNc');
    default:
      throw invalid('unknown command code', code);
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function cstr(text: string): Buffer {
  if (text.includes('\0')) {
    throw new ParapetError('ERR_MILTER_FRAME_INVALID', 'a milter string may not contain NUL');
  }
  return Buffer.from(`${text}\0`, 'utf8');
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value & 0xffff);
  return b;
}

/** Frames a payload: uint32 length (code + payload), the code byte, the payload. */
export function encodeMilterFrame(code: number, payload: Buffer | readonly Buffer[] = []): Buffer {
  const parts = Buffer.isBuffer(payload) ? [payload] : payload;
  const size = parts.reduce((n, p) => n + p.length, 0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(size + 1);
  head[4] = code;
  return Buffer.concat([head, ...parts], size + 5);
}

/**
 * Encodes one MTA command as a whole frame. Used by test clients and tools (the filter never
 * sends commands). Throws ERR_MILTER_FRAME_INVALID for a string containing NUL.
 */
export function encodeMilterCommand(cmd: MilterCommand): Buffer {
  const C = MilterCommandCode;
  switch (cmd.kind) {
    case 'optneg':
      return encodeMilterFrame(C.OptionNegotiation, [
        u32(cmd.version),
        u32(cmd.actions),
        u32(cmd.protocol),
      ]);
    case 'macro':
      return encodeMilterFrame(C.Macro, [
        Buffer.from([cmd.stage & 0xff]),
        ...cmd.macros.flatMap(([n, v]) => [cstr(n), cstr(v)]),
      ]);
    case 'connect': {
      const family = Buffer.from([MilterAddressFamily[cmd.family]]);
      if (cmd.family === 'unknown')
        return encodeMilterFrame(C.Connect, [cstr(cmd.hostname), family]);
      return encodeMilterFrame(C.Connect, [
        cstr(cmd.hostname),
        family,
        u16(cmd.port ?? 0),
        cstr(cmd.address ?? ''),
      ]);
    }
    case 'helo':
      return encodeMilterFrame(C.Helo, cstr(cmd.name));
    case 'mail':
      return encodeMilterFrame(C.Mail, cmd.args.map(cstr));
    case 'rcpt':
      return encodeMilterFrame(C.Rcpt, cmd.args.map(cstr));
    case 'data':
      return encodeMilterFrame(C.Data);
    case 'header': {
      if (cmd.value.includes(0)) {
        throw new ParapetError('ERR_MILTER_FRAME_INVALID', 'a header value may not contain NUL');
      }
      return encodeMilterFrame(C.Header, [cstr(cmd.name), cmd.value, Buffer.from([0])]);
    }
    case 'eoh':
      return encodeMilterFrame(C.EndOfHeaders);
    case 'body':
      return encodeMilterFrame(C.Body, cmd.chunk);
    case 'eom':
      return encodeMilterFrame(C.EndOfMessage, cmd.chunk);
    case 'abort':
      return encodeMilterFrame(C.Abort);
    case 'quit':
      return encodeMilterFrame(C.Quit);
    case 'quitNc':
      return encodeMilterFrame(C.QuitNewConnection);
    case 'unknown':
      return encodeMilterFrame(C.Unknown, cstr(cmd.command));
  }
}

/**
 * Encodes one reply as a whole frame, ready to write. Called by the session for every reply.
 * Throws ERR_MILTER_FRAME_INVALID for a string containing NUL or a body chunk over
 * MILTER_CHUNK_BYTES (the session splits bodies before encoding).
 */
export function encodeMilterReply(reply: MilterReply): Buffer {
  const R = MilterReplyCode;
  switch (reply.kind) {
    case 'optneg':
      return encodeMilterFrame(R.OptionNegotiation, [
        u32(reply.version),
        u32(reply.actions),
        u32(reply.protocol),
        ...reply.symbolLists.flatMap((l) => [u32(l.stage), cstr(l.macros)]),
      ]);
    case 'accept':
      return encodeMilterFrame(R.Accept);
    case 'continue':
      return encodeMilterFrame(R.Continue);
    case 'discard':
      return encodeMilterFrame(R.Discard);
    case 'reject':
      return encodeMilterFrame(R.Reject);
    case 'tempfail':
      return encodeMilterFrame(R.Tempfail);
    case 'shutdown':
      return encodeMilterFrame(R.Shutdown);
    case 'connectionFail':
      return encodeMilterFrame(R.ConnectionFail);
    case 'progress':
      return encodeMilterFrame(R.Progress);
    case 'skip':
      return encodeMilterFrame(R.Skip);
    case 'replyCode':
      return encodeMilterFrame(R.ReplyCode, cstr(reply.text));
    case 'addHeader':
      return encodeMilterFrame(R.AddHeader, [cstr(reply.name), cstr(reply.value)]);
    case 'insertHeader':
      return encodeMilterFrame(R.InsertHeader, [
        u32(reply.index),
        cstr(reply.name),
        cstr(reply.value),
      ]);
    case 'changeHeader':
      return encodeMilterFrame(R.ChangeHeader, [
        u32(reply.index),
        cstr(reply.name),
        cstr(reply.value),
      ]);
    case 'addRecipient':
      return encodeMilterFrame(R.AddRecipient, cstr(reply.address));
    case 'addRecipientWithArgs':
      return encodeMilterFrame(R.AddRecipientWithArgs, [cstr(reply.address), cstr(reply.args)]);
    case 'deleteRecipient':
      return encodeMilterFrame(R.DeleteRecipient, cstr(reply.address));
    case 'changeFrom':
      return encodeMilterFrame(
        R.ChangeFrom,
        reply.args === null ? [cstr(reply.address)] : [cstr(reply.address), cstr(reply.args)],
      );
    case 'replaceBody':
      if (reply.chunk.length > MILTER_CHUNK_BYTES) {
        throw new ParapetError('ERR_MILTER_FRAME_INVALID', 'SMFIR_REPLBODY chunk over 65535 bytes');
      }
      return encodeMilterFrame(R.ReplaceBody, reply.chunk);
    case 'quarantine':
      return encodeMilterFrame(R.Quarantine, cstr(reply.reason));
    case 'setSymbolList':
      return encodeMilterFrame(R.SetSymbolList, [u32(reply.stage), cstr(reply.macros)]);
  }
}

function replyInvalid(what: string, code: number): ParapetError {
  return new ParapetError('ERR_MILTER_FRAME_INVALID', `${milterReplyName(code)}: ${what}`);
}

/**
 * Decodes one filter reply frame. The filter never reads replies; test clients and tools do.
 * Throws ERR_MILTER_FRAME_INVALID for an unknown code or a malformed payload.
 */
export function decodeMilterReply(frame: MilterFrame): MilterReply {
  const { code, payload } = frame;
  const R = MilterReplyCode;
  const r = new PayloadReader(payload, code);
  const empty = <K extends MilterReplyKind>(kind: K): { readonly kind: K } => {
    if (payload.length !== 0) throw replyInvalid('unexpected payload', code);
    return { kind };
  };
  const stageOf = (n: number): MilterMacroStageValue => {
    if (n > 6) throw replyInvalid(`unknown macro stage ${n}`, code);
    return n as MilterMacroStageValue;
  };
  switch (code) {
    case R.OptionNegotiation: {
      const version = r.uint32();
      const actions = r.uint32();
      const protocol = r.uint32();
      const symbolLists: MilterSymbolList[] = [];
      while (!r.atEnd()) symbolLists.push({ stage: stageOf(r.uint32()), macros: r.cstring() });
      return { kind: 'optneg', version, actions, protocol, symbolLists };
    }
    case R.Accept:
      return empty('accept');
    case R.Continue:
      return empty('continue');
    case R.Discard:
      return empty('discard');
    case R.Reject:
      return empty('reject');
    case R.Tempfail:
      return empty('tempfail');
    case R.Shutdown:
      return empty('shutdown');
    case R.ConnectionFail:
      return empty('connectionFail');
    case R.Progress:
      return empty('progress');
    case R.Skip:
      return empty('skip');
    case R.ReplyCode: {
      const text = r.cstring();
      r.end();
      return { kind: 'replyCode', text };
    }
    case R.AddHeader: {
      const name = r.cstring();
      const value = r.cstring();
      r.end();
      return { kind: 'addHeader', name, value };
    }
    case R.InsertHeader:
    case R.ChangeHeader: {
      const index = r.uint32();
      const name = r.cstring();
      const value = r.cstring();
      r.end();
      return code === R.InsertHeader
        ? { kind: 'insertHeader', index, name, value }
        : { kind: 'changeHeader', index, name, value };
    }
    case R.AddRecipient:
    case R.DeleteRecipient: {
      const address = r.cstring();
      r.end();
      return code === R.AddRecipient
        ? { kind: 'addRecipient', address }
        : { kind: 'deleteRecipient', address };
    }
    case R.AddRecipientWithArgs: {
      const address = r.cstring();
      const args = r.atEnd() ? '' : r.cstring();
      r.end();
      return { kind: 'addRecipientWithArgs', address, args };
    }
    case R.ChangeFrom: {
      const address = r.cstring();
      const args = r.atEnd() ? null : r.cstring();
      r.end();
      return { kind: 'changeFrom', address, args };
    }
    case R.ReplaceBody:
      return { kind: 'replaceBody', chunk: r.rest() };
    case R.Quarantine: {
      const reason = r.cstring();
      r.end();
      return { kind: 'quarantine', reason };
    }
    case R.SetSymbolList: {
      const stage = stageOf(r.uint32());
      const macros = r.cstring();
      r.end();
      return { kind: 'setSymbolList', stage, macros };
    }
    default:
      throw replyInvalid('unknown reply code', code);
  }
}

/**
 * Formats an SmtpReply as SMFIR_REPLYCODE text: "550 5.7.1 text", multi-line as
 * "550-5.7.1 a\r\n550 5.7.1 b" (no CRLF at the end). Called for every reject/tempfail reply.
 *
 * - Postfix refuses a reply whose fifth byte is not the class digit (milter8.c "malformed
 *   reply"), so a missing or mismatched enhanced code becomes "<class>.0.0" (RFC 3463).
 * - sendmail uses the text as a format string and Postfix undoes that, so '%' is doubled.
 * - CR, LF and NUL inside a line are removed: they would break the framing of the reply.
 */
export function formatMilterReplyText(reply: SmtpReply): string {
  const code = String(reply.code);
  const cls = code[0] ?? '4';
  const enhanced =
    reply.enhanced !== null &&
    reply.enhanced.startsWith(`${cls}.`) &&
    /^[245]\.\d{1,3}\.\d{1,3}$/.test(reply.enhanced)
      ? reply.enhanced
      : `${cls}.0.0`;
  const lines = reply.text
    .split(/\r?\n/)
    .map((l) => l.replace(/[\r\n\0]/g, '').replace(/%/g, '%%'));
  return lines
    .map((line, i) => `${code}${i === lines.length - 1 ? ' ' : '-'}${enhanced} ${line}`)
    .join('\r\n');
}
