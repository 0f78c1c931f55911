/**
 * Postfix wiring for Parapet (`parapet mta configure postfix`), done only with `postconf -c DIR`
 * (execFile, no shell), so Postfix itself parses and writes its files.
 *
 * Two modes (ARCHITECTURE.md "One message"):
 * - content-filter: Postfix's after-queue content filter (FILTER_README "advanced content
 *   filter"). main.cf `content_filter = parapet:[127.0.0.1]:10025` and
 *   `receive_override_options = no_address_mappings` (mappings run once, after filtering, in
 *   the re-injection smtpd); master.cf gets the `parapet` smtp client transport (XFORWARD on,
 *   so the filter sees the real client) and the filter-free re-injection smtpd on
 *   127.0.0.1:10026.
 * - milter: `smtpd_milters` and `non_smtpd_milters` get Parapet's milter appended (other
 *   milters are kept), plus protocol 6, `milter_default_action = tempfail` (an unreachable
 *   filter defers mail, never lets it through: STYLE.md B5.3), timeouts and macros. The
 *   filter-free re-injection smtpd on 127.0.0.1:10026 exists in this mode too, for the
 *   Queue Runner (released quarantine mail, digests, notices).
 * - both modes: the IP Blocker (127.0.0.1:10040) first in `smtpd_client_restrictions`.
 *
 * State is derived from postconf, no marker file: the transport is the master.cf service
 * `<service>/unix`, the re-injection smtpd is the inet service whose `syslog_name` is
 * `postfix/<service>-reinject`, `content_filter` is ours when it names `<service>:`, a milter
 * list entry is ours when it equals the milter address, and other main.cf keys are ours when
 * they hold exactly the value Parapet writes. Configuring one mode removes the other's
 * settings; undo removes both and so restores Postfix's defaults for those keys. A value an
 * administrator had set before is overwritten (the report shows it as `before`) and not
 * restored by undo; an administrator's later change to one of our keys survives undo.
 *
 * Every edit is skipped when the current value already matches, so a second run changes no
 * byte of main.cf or master.cf.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ProvisioningError } from '../errors.js';

/** The two ways Parapet sits in Postfix's mail flow. */
export const MTA_MODES = ['content-filter', 'milter'] as const;

/** One of {@link MTA_MODES}. */
export type MtaMode = (typeof MTA_MODES)[number];

/** Defaults, as in CONTRACTS.md "Ports". */
export const POSTFIX_WIRING_DEFAULTS = {
  configDir: '/etc/postfix',
  mode: 'content-filter',
  filterAddress: '127.0.0.1:10025',
  reinjectAddress: '127.0.0.1:10026',
  milterAddress: 'inet:127.0.0.1:3366',
  serviceName: 'parapet',
  /**
   * Max processes of the `parapet` transport = how many messages Postfix hands to the
   * content filter at once. 10 matches FILTER_README's example and keeps the filter's CPU
   * and clamd busy without queueing work inside it; raise it with the filter's session cap.
   */
  filterProcessLimit: 10,
  ipblockerAddress: '127.0.0.1:10040',
} as const;

/** Options of {@link configurePostfix} and {@link undoPostfix}; all optional. */
export interface PostfixWiringOptions {
  /** Postfix config_directory; default /etc/postfix. */
  readonly configDir?: string;
  /** Default content-filter. Ignored by undo. */
  readonly mode?: MtaMode | (string & {});
  /** Where Parapet's content filter listens, `host:port`; default 127.0.0.1:10025. */
  readonly filterAddress?: string;
  /** The re-injection smtpd, a loopback `ipv4:port`; default 127.0.0.1:10026. */
  readonly reinjectAddress?: string;
  /** Parapet's milter, `inet:host:port` or `unix:/path`; default inet:127.0.0.1:3366. */
  readonly milterAddress?: string;
  /** master.cf transport name (and syslog tag); default `parapet`. */
  readonly serviceName?: string;
  /** Max processes of the transport (see {@link POSTFIX_WIRING_DEFAULTS}); default 10. */
  readonly filterProcessLimit?: number;
  /**
   * The IP Blocker's policy delegation address `host:port` (default 127.0.0.1:10040), wired
   * as the first `smtpd_client_restrictions` element in both modes; null leaves it out (and
   * removes an earlier wiring).
   */
  readonly ipblockerAddress?: string | null;
  /**
   * Content-filter mode: the re-injection witness's milter (`unix:/path`, `parapet serve
   * witness`), consulted by the re-injection smtpd so that retries after a crash of the policy
   * service are answered exactly once (filter/decisions/0005). Default null: none.
   */
  readonly witnessAddress?: string | null;
  /** postconf binary; default found in /usr/sbin, /usr/bin or PATH. */
  readonly postconfPath?: string;
}

/** Options after defaults and validation. */
export interface ResolvedWiringOptions {
  readonly configDir: string;
  readonly mode: MtaMode;
  readonly filterHost: string;
  readonly filterPort: number;
  readonly reinjectHost: string;
  readonly reinjectPort: number;
  readonly milterAddress: string;
  readonly serviceName: string;
  readonly filterProcessLimit: number;
  /** `inet:host:port` of the IP Blocker, or null when it is not wired. */
  readonly ipblockerAddress: string | null;
  /** `unix:/path` of the re-injection witness, or null. */
  readonly witnessAddress: string | null;
}

/** One edit, for the CLI to print: `undefined` means unset (main.cf) or absent (master.cf). */
export interface WiringChange {
  readonly file: 'main.cf' | 'master.cf';
  /** main.cf parameter name, or master.cf `service/type`. */
  readonly key: string;
  readonly before: string | undefined;
  readonly after: string | undefined;
}

/** What a run did. `changes` is empty when everything was already in place. */
export interface WiringReport {
  readonly configDir: string;
  readonly action: MtaMode | 'undo';
  readonly changes: readonly WiringChange[];
}

/** A master.cf service as `postconf -M` takes it. */
export interface MasterEntry {
  /** `service/type`, e.g. `parapet/unix` or `127.0.0.1:10026/inet`. */
  readonly key: string;
  /** The whole entry on one line, e.g. `parapet unix - - n - 10 smtp -o a=b`. */
  readonly entry: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SERVICE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('ERR_MTA_INVALID_OPTION', message);
}

/** Splits `host:port` (IPv4 or hostname) and checks both parts. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^([^:\s]+):(\d{1,5})$/.exec(value);
  const host = match?.[1];
  const port = Number(match?.[2]);
  const numeric = host !== undefined && /^[\d.]+$/.test(host);
  if (host === undefined || !(numeric ? IPV4.test(host) : HOSTNAME.test(host))) {
    throw invalid(`${what} '${value}' is not host:port (IPv4 address or host name)`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(`${what} '${value}' has a port outside 1-65535`);
  }
  return { host, port };
}

/** Checks a milter address: `inet:host:port` or `unix:/absolute/path`. */
export function validateMilterAddress(value: string): string {
  if (value.startsWith('inet:')) {
    parseHostPort(value.slice('inet:'.length), 'milter address');
    return value;
  }
  if (value.startsWith('unix:')) {
    const path = value.slice('unix:'.length);
    // Commas, blanks and braces would split or group Postfix's milter list.
    if (isAbsolute(path) && !/[\s,{}]/.test(path) && path.length <= 107) return value;
    throw invalid(`milter address '${value}' needs an absolute socket path without blanks`);
  }
  throw invalid(`milter address '${value}' must start with inet: or unix:`);
}

/** Applies defaults and validates; throws ERR_MTA_INVALID_OPTION with a one-line message. */
export function resolveWiringOptions(options: PostfixWiringOptions = {}): ResolvedWiringOptions {
  const d = POSTFIX_WIRING_DEFAULTS;
  const mode = options.mode ?? d.mode;
  if (!(MTA_MODES as readonly string[]).includes(mode)) {
    throw invalid(`mode '${mode}' is not one of ${MTA_MODES.join(', ')}`);
  }
  const serviceName = options.serviceName ?? d.serviceName;
  if (!SERVICE_NAME.test(serviceName)) {
    throw invalid(`service name '${serviceName}' must be lower-case letters, digits, - or _`);
  }
  const limit = options.filterProcessLimit ?? d.filterProcessLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw invalid(`filter process limit ${limit} is not an integer in 1-1000`);
  }
  const filter = parseHostPort(options.filterAddress ?? d.filterAddress, 'filter address');
  const reinject = parseHostPort(options.reinjectAddress ?? d.reinjectAddress, 'reinject address');
  if (!IPV4.test(reinject.host) || !reinject.host.startsWith('127.')) {
    // The re-injection smtpd trusts its clients (no restrictions, XFORWARD): loopback only.
    throw invalid(`reinject address '${reinject.host}' must be a 127.x.x.x address`);
  }
  if (filter.host === reinject.host && filter.port === reinject.port) {
    throw invalid('filter and reinject addresses must differ (a mail loop otherwise)');
  }
  return {
    configDir: options.configDir ?? d.configDir,
    mode: mode as MtaMode,
    filterHost: filter.host,
    filterPort: filter.port,
    reinjectHost: reinject.host,
    reinjectPort: reinject.port,
    milterAddress: validateMilterAddress(options.milterAddress ?? d.milterAddress),
    serviceName,
    filterProcessLimit: limit,
    ipblockerAddress: resolveIpBlocker(options.ipblockerAddress),
    // Milter mode needs no witness: its 10026 smtpd only takes released and outbound mail.
    witnessAddress: mode === 'content-filter' ? resolveWitness(options.witnessAddress) : null,
  };
}

/** The witness must be a unix socket: it is on this host, next to the policy service. */
function resolveWitness(value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === '') return null;
  const address = validateMilterAddress(value);
  if (!address.startsWith('unix:')) {
    throw invalid(`witness address '${value}' must be unix:/absolute/path`);
  }
  return address;
}

function resolveIpBlocker(value: string | null | undefined): string | null {
  if (value === null) return null;
  const hp = parseHostPort(value ?? POSTFIX_WIRING_DEFAULTS.ipblockerAddress, 'ipblocker address');
  return `inet:${hp.host}:${String(hp.port)}`;
}

/** The main.cf list the IP Blocker check goes into. */
export const IPBLOCKER_LIST_KEY = 'smtpd_client_restrictions';

/**
 * The restriction that asks the IP Blocker. Per-service settings (Postfix ≥ 3.0): an
 * unreachable IP Blocker answers DUNNO at once, so its outage never stops or slows mail.
 */
export function ipblockerRestriction(address: string): string {
  return `check_policy_service { ${address}, ${IPBLOCKER_SETTINGS} }`;
}

const IPBLOCKER_SETTINGS = 'default_action=DUNNO, try_limit=1, timeout=10s';

/**
 * A restriction list without Parapet's IP Blocker checks: `check_policy_service` elements
 * with exactly Parapet's per-service settings (that is how a run recognises its own, for any
 * address), and any other `check_policy_service` element that asks `address`.
 */
export function removeIpBlocker(list: string | undefined, address?: string): string | undefined {
  const items = splitMilterList(list ?? '');
  const out: string[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i] ?? '';
    const next = items[i + 1];
    if (item === 'check_policy_service' && next !== undefined) {
      const settings = next.startsWith('{')
        ? splitMilterList(next.slice(1, -1)).slice(1).join(', ')
        : null;
      if (settings === IPBLOCKER_SETTINGS || milterElementAddress(next) === address) {
        i++;
        continue;
      }
    }
    out.push(item);
  }
  return out.length === 0 ? undefined : out.join(', ');
}

/** A restriction list with the IP Blocker check first (existing elements kept in order). */
export function addIpBlocker(list: string | undefined, address: string): string {
  const rest = removeIpBlocker(list, address);
  return rest === undefined
    ? ipblockerRestriction(address)
    : `${ipblockerRestriction(address)}, ${rest}`;
}

/** Plans the IP Blocker wiring (or its removal when `address` is null). */
function planIpBlocker(s: WiringSession, wanted: string | null): void {
  const before = s.main.get(IPBLOCKER_LIST_KEY);
  const list = wanted === null ? removeIpBlocker(before, undefined) : addIpBlocker(before, wanted);
  // postconf -n prints the list as written; compare element-wise so a second run is a no-op.
  const same = (a: string | undefined, b: string | undefined): boolean =>
    splitMilterList(a ?? '').join(',') === splitMilterList(b ?? '').join(',');
  if (same(list, before)) return;
  if (list === undefined) s.unsetMain(IPBLOCKER_LIST_KEY);
  else s.setMain(IPBLOCKER_LIST_KEY, list);
}

/** main.cf settings of content-filter mode. */
export function contentFilterMainCf(o: ResolvedWiringOptions): Record<string, string> {
  return {
    content_filter: `${o.serviceName}:[${o.filterHost}]:${o.filterPort}`,
    receive_override_options: 'no_address_mappings',
  };
}

/** `syslog_name` of the re-injection smtpd; also how undo recognizes that service. */
export function reinjectSyslogName(serviceName: string): string {
  return `postfix/${serviceName}-reinject`;
}

/** master.cf services of content-filter mode (FILTER_README's transport + smtpd pair). */
export function contentFilterMasterCf(o: ResolvedWiringOptions): MasterEntry[] {
  const transport = [
    `${o.serviceName} unix - - n - ${o.filterProcessLimit} smtp`,
    `-o syslog_name=postfix/${o.serviceName}`,
    // Pass the original client name, address and HELO so scanners see the real client.
    '-o smtp_send_xforward_command=yes',
    // The filter gets the message as received: no 8bit→quoted-printable, no address rewriting.
    '-o disable_mime_output_conversion=yes',
    '-o smtp_generic_maps=',
    // The next hop is a literal address; never ask DNS. No TLS on loopback.
    '-o smtp_dns_support_level=disabled',
    '-o smtp_tls_security_level=none',
    // The filter answers after scanning and re-injection: give it up to 20 minutes.
    '-o smtp_data_done_timeout=1200s',
    '-o smtp_connect_timeout=10s',
  ].join(' ');
  const listen = `${o.reinjectHost}:${o.reinjectPort}`;
  const reinject = [
    `${listen} inet n - n - - smtpd`,
    `-o syslog_name=${reinjectSyslogName(o.serviceName)}`,
    // Filtered mail must not be filtered again, nor re-checked, nor sent to milters — but
    // the witness, when there is one: it accepts every copy and records its receipt, and an
    // unreachable witness tempfails the copy (the policy service then answers upstream 4xx).
    '-o content_filter=',
    ...(o.witnessAddress === null
      ? [
          '-o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters',
          '-o smtpd_milters=',
        ]
      : [
          '-o receive_override_options=no_unknown_recipient_checks,no_header_body_checks',
          `-o smtpd_milters=${o.witnessAddress}`,
          '-o milter_protocol=6',
          '-o milter_default_action=tempfail',
          '-o milter_connect_timeout=10s',
        ]),
    '-o smtpd_helo_restrictions=',
    '-o smtpd_client_restrictions=',
    '-o smtpd_sender_restrictions=',
    '-o smtpd_relay_restrictions=permit_mynetworks,reject',
    '-o smtpd_recipient_restrictions=permit_mynetworks,reject',
    '-o smtpd_data_restrictions=',
    '-o smtpd_end_of_data_restrictions=',
    '-o mynetworks=127.0.0.0/8',
    '-o smtpd_authorized_xforward_hosts=127.0.0.0/8',
    '-o smtpd_tls_security_level=none',
    '-o smtpd_sasl_auth_enable=no',
    // A busy filter opens many connections; anvil must not throttle it, nor error limits.
    '-o smtpd_client_connection_count_limit=0',
    '-o smtpd_client_event_limit_exceptions=127.0.0.0/8',
    '-o smtpd_hard_error_limit=1000',
  ].join(' ');
  return [
    { key: `${o.serviceName}/unix`, entry: transport },
    { key: `${listen}/inet`, entry: reinject },
  ];
}

/** Scalar main.cf settings of milter mode (the milter lists are merged separately). */
export function milterMainCf(): Record<string, string> {
  return {
    milter_protocol: '6',
    milter_default_action: 'tempfail',
    milter_connect_timeout: '10s',
    milter_command_timeout: '30s',
    milter_content_timeout: '300s',
    // Client port and daemon port at connect; queue id and authentication at end of message
    // (also when the earlier steps are skipped through protocol negotiation).
    milter_connect_macros:
      'j {daemon_name} {daemon_addr} {daemon_port} v _ {client_addr} {client_port} {client_name}',
    milter_end_of_data_macros: 'i {auth_type} {auth_authen} {auth_author}',
  };
}

/** The main.cf milter list parameters Parapet adds itself to. */
export const MILTER_LIST_KEYS = ['smtpd_milters', 'non_smtpd_milters'] as const;

/**
 * Splits a Postfix milter list on commas and blanks, keeping `{ ... }` groups (Postfix 3.0
 * per-milter settings) as one element.
 */
export function splitMilterList(value: string): string[] {
  const items: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
      if (current !== '') items.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  if (current !== '') items.push(current);
  return items;
}

/** The address of a milter list element (`{ inet:x:1, ... }` → `inet:x:1`). */
function milterElementAddress(element: string): string {
  if (!element.startsWith('{')) return element;
  return (splitMilterList(element.slice(1, -1))[0] ?? '').trim();
}

/** A milter list with `address` appended once (kept where it already is). */
export function addMilter(list: string | undefined, address: string): string {
  const items = splitMilterList(list ?? '');
  if (items.some((i) => milterElementAddress(i) === address)) return items.join(', ');
  return [...items, address].join(', ');
}

/** A milter list without `address`; undefined when nothing is left. */
export function removeMilter(list: string | undefined, address: string): string | undefined {
  const items = splitMilterList(list ?? '').filter((i) => milterElementAddress(i) !== address);
  return items.length === 0 ? undefined : items.join(', ');
}

// ---------------------------------------------------------------------------------------------
// postconf driver

/** Finds postconf; throws ERR_MTA_POSTCONF_MISSING with a clear message when there is none. */
export function findPostconf(explicit?: string): string {
  const candidates =
    explicit !== undefined
      ? [explicit]
      : [
          '/usr/sbin/postconf',
          '/usr/bin/postconf',
          ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'postconf')),
        ];
  const found = candidates.find((p) => p !== '' && existsSync(p));
  if (found === undefined) {
    throw new ProvisioningError(
      'ERR_MTA_POSTCONF_MISSING',
      explicit !== undefined
        ? `postconf not found at ${explicit}`
        : 'postconf not found: install Postfix (Debian package postfix)',
    );
  }
  return found;
}

/** Runs postconf with `-c configDir`; resolves with stdout, throws ERR_MTA_POSTCONF_FAILED. */
async function runPostconf(
  postconf: string,
  configDir: string,
  args: readonly string[],
): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    execFile(
      postconf,
      ['-c', configDir, ...args],
      { encoding: 'utf8', timeout: 30_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const detail = (stderr.trim().split('\n').pop() ?? '') || error.message;
        reject(
          new ProvisioningError(
            'ERR_MTA_POSTCONF_FAILED',
            `postconf ${args[0] ?? ''} failed: ${detail}`,
            {
              cause: error,
            },
          ),
        );
      },
    );
  });
}

/** Parses `postconf -n` output (`name = value` lines) into a map. */
export function parsePostconfN(output: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 3));
    else if (line.endsWith(' =')) map.set(line.slice(0, -2), '');
  }
  return map;
}

/** Collapses blanks so `postconf -M` output and our entries compare field by field. */
function normalizeEntry(entry: string): string {
  return entry.trim().split(/\s+/).join(' ');
}

/** Reads master.cf through `postconf -M`: `service/type` → normalized one-line entry. */
async function readMasterCf(postconf: string, configDir: string): Promise<Map<string, string>> {
  const out = await runPostconf(postconf, configDir, ['-M']);
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const fields = normalizeEntry(line).split(' ');
    const [service, type] = fields;
    if (service === undefined || type === undefined || service === '') continue;
    map.set(`${service}/${type}`, fields.join(' '));
  }
  return map;
}

/** A planned set of edits, applied with one postconf call per kind. */
interface Plan {
  readonly set: Map<string, string>;
  readonly unset: Set<string>;
  readonly masterSet: MasterEntry[];
  readonly masterRemove: string[];
}

class WiringSession {
  readonly changes: WiringChange[] = [];
  readonly #plan: Plan = { set: new Map(), unset: new Set(), masterSet: [], masterRemove: [] };
  readonly #postconf: string;
  readonly #configDir: string;
  readonly main: Map<string, string>;
  readonly master: Map<string, string>;

  private constructor(
    postconf: string,
    configDir: string,
    main: Map<string, string>,
    master: Map<string, string>,
  ) {
    this.#postconf = postconf;
    this.#configDir = configDir;
    this.main = main;
    this.master = master;
  }

  static async open(
    o: ResolvedWiringOptions,
    postconfPath: string | undefined,
  ): Promise<WiringSession> {
    const postconf = findPostconf(postconfPath);
    for (const file of ['main.cf', 'master.cf']) {
      if (!existsSync(join(o.configDir, file))) {
        throw new ProvisioningError(
          'ERR_MTA_CONFIG_DIR',
          `${join(o.configDir, file)} does not exist`,
        );
      }
    }
    const main = parsePostconfN(await runPostconf(postconf, o.configDir, ['-n']));
    const master = await readMasterCf(postconf, o.configDir);
    return new WiringSession(postconf, o.configDir, main, master);
  }

  /** Plans `key = value` unless it is already so. */
  setMain(key: string, value: string): void {
    const before = this.main.get(key);
    if (before === value) return;
    this.#plan.set.set(key, value);
    this.changes.push({ file: 'main.cf', key, before, after: value });
  }

  /** Plans removing `key` from main.cf (back to Postfix's default) if it is set. */
  unsetMain(key: string): void {
    const before = this.main.get(key);
    if (before === undefined) return;
    this.#plan.unset.add(key);
    this.changes.push({ file: 'main.cf', key, before, after: undefined });
  }

  setMaster(want: MasterEntry): void {
    const before = this.master.get(want.key);
    const after = normalizeEntry(want.entry);
    if (before === after) return;
    this.#plan.masterSet.push(want);
    this.changes.push({ file: 'master.cf', key: want.key, before, after });
  }

  removeMaster(key: string): void {
    const before = this.master.get(key);
    if (before === undefined) return;
    this.#plan.masterRemove.push(key);
    this.changes.push({ file: 'master.cf', key, before, after: undefined });
  }

  async apply(): Promise<void> {
    const { set, unset, masterSet, masterRemove } = this.#plan;
    const run = (args: string[]): Promise<string> =>
      runPostconf(this.#postconf, this.#configDir, args);
    if (masterRemove.length > 0) await run(['-MX', ...masterRemove]);
    for (const m of masterSet) await run(['-M', `${m.key}=${m.entry}`]);
    if (unset.size > 0) await run(['-X', ...unset]);
    if (set.size > 0) await run(['-e', ...[...set].map(([k, v]) => `${k}=${v}`)]);
  }
}

/** Plans removal of the content-filter settings that are Parapet's. */
function planRemoveContentFilter(
  s: WiringSession,
  o: ResolvedWiringOptions,
  keep: ReadonlySet<string>,
): void {
  const filter = s.main.get('content_filter');
  if (filter?.startsWith(`${o.serviceName}:`) === true && !keep.has('content_filter')) {
    s.unsetMain('content_filter');
  }
  if (
    s.main.get('receive_override_options') === 'no_address_mappings' &&
    !keep.has('receive_override_options')
  ) {
    s.unsetMain('receive_override_options');
  }
  const transportKey = `${o.serviceName}/unix`;
  if (!keep.has(transportKey)) s.removeMaster(transportKey);
  const marker = `-o syslog_name=${reinjectSyslogName(o.serviceName)}`;
  for (const [key, entry] of s.master) {
    if (key.endsWith('/inet') && !keep.has(key) && ` ${entry} `.includes(` ${marker} `)) {
      s.removeMaster(key);
    }
  }
}

/** Plans removal of Parapet's milter and the milter settings that hold Parapet's values. */
function planRemoveMilter(s: WiringSession, o: ResolvedWiringOptions): void {
  for (const key of MILTER_LIST_KEYS) {
    const current = s.main.get(key);
    if (current === undefined) continue;
    const rest = removeMilter(current, o.milterAddress);
    if (rest === undefined) s.unsetMain(key);
    else if (rest !== current) s.setMain(key, rest);
  }
  for (const [key, value] of Object.entries(milterMainCf())) {
    if (s.main.get(key) === value) s.unsetMain(key);
  }
}

/**
 * Wires Parapet into the Postfix configuration in `options.configDir` for `options.mode`,
 * removing the other mode's settings. Idempotent: when everything is in place, it runs no
 * editing command and returns no changes. Does not reload Postfix (see {@link reloadPostfix}).
 * Throws a ProvisioningError (ERR_MTA_*) on invalid options, a missing postconf or config
 * dir, or a postconf failure.
 */
export async function configurePostfix(options: PostfixWiringOptions = {}): Promise<WiringReport> {
  const o = resolveWiringOptions(options);
  const s = await WiringSession.open(o, options.postconfPath);
  if (o.mode === 'content-filter') {
    planRemoveMilter(s, o);
    const entries = contentFilterMasterCf(o);
    // A changed reinject address leaves an old marked smtpd behind: remove all but the wanted.
    planRemoveContentFilter(
      s,
      o,
      new Set(['content_filter', 'receive_override_options', ...entries.map((e) => e.key)]),
    );
    for (const [key, value] of Object.entries(contentFilterMainCf(o))) s.setMain(key, value);
    for (const entry of entries) s.setMaster(entry);
  } else {
    // The filter-free re-injection smtpd stays in milter mode too: the Queue Runner delivers
    // released quarantine mail, digests and notices there, past the milter.
    const reinject = contentFilterMasterCf(o).filter((e) => e.key.endsWith('/inet'));
    planRemoveContentFilter(s, o, new Set(reinject.map((e) => e.key)));
    for (const entry of reinject) s.setMaster(entry);
    for (const key of MILTER_LIST_KEYS) s.setMain(key, addMilter(s.main.get(key), o.milterAddress));
    for (const [key, value] of Object.entries(milterMainCf())) s.setMain(key, value);
  }
  planIpBlocker(s, o.ipblockerAddress);
  await s.apply();
  return { configDir: o.configDir, action: o.mode, changes: s.changes };
}

/**
 * Removes everything Parapet added in either mode (main.cf keys back to Postfix's defaults,
 * the master.cf services deleted, Parapet's milter taken out of the milter lists). Give the
 * same `milterAddress` and `serviceName` as when configuring if they were not the defaults.
 */
export async function undoPostfix(options: PostfixWiringOptions = {}): Promise<WiringReport> {
  const o = resolveWiringOptions({ ...options, mode: 'content-filter' });
  const s = await WiringSession.open(o, options.postconfPath);
  planRemoveContentFilter(s, o, new Set());
  planRemoveMilter(s, o);
  planIpBlocker(s, null);
  await s.apply();
  return { configDir: o.configDir, action: 'undo', changes: s.changes };
}

/** Finds the `postfix` command next to postconf, or throws ERR_MTA_RELOAD_FAILED. */
function findPostfix(postconfPath: string): string {
  const beside = join(postconfPath, '..', 'postfix');
  if (existsSync(beside)) return beside;
  if (existsSync('/usr/sbin/postfix')) return '/usr/sbin/postfix';
  throw new ProvisioningError('ERR_MTA_RELOAD_FAILED', 'postfix command not found');
}

/**
 * Runs `postfix -c DIR reload` when that Postfix is running (`postfix status` exits 0);
 * resolves 'not-running' otherwise. Throws ERR_MTA_RELOAD_FAILED when reload fails.
 */
export async function reloadPostfix(
  options: Pick<PostfixWiringOptions, 'configDir' | 'postconfPath'> = {},
): Promise<'reloaded' | 'not-running'> {
  const configDir = options.configDir ?? POSTFIX_WIRING_DEFAULTS.configDir;
  const postfix = findPostfix(findPostconf(options.postconfPath));
  const run = (verb: string): Promise<{ ok: boolean; output: string }> =>
    new Promise((resolve) => {
      execFile(
        postfix,
        ['-c', configDir, verb],
        { encoding: 'utf8', timeout: 60_000 },
        (error, stdout, stderr) => {
          resolve({ ok: error === null, output: `${stderr}${stdout}`.trim() });
        },
      );
    });
  if (!(await run('status')).ok) return 'not-running';
  const reload = await run('reload');
  if (!reload.ok) {
    throw new ProvisioningError(
      'ERR_MTA_RELOAD_FAILED',
      `postfix reload failed: ${reload.output.split('\n').pop() ?? ''}`,
    );
  }
  return 'reloaded';
}
