/**
 * Finds the system's PostgreSQL server binaries. Debian keeps them off PATH in
 * /usr/lib/postgresql/<major>/bin (several majors may be installed side by side); other systems
 * put initdb and postgres on PATH.
 */
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ParapetError } from '../../filter/index.js';

export interface PgBinaries {
  readonly binDir: string;
  /** Major version (15, 16, …); 0 when it could not be read. */
  readonly major: number;
  readonly initdb: string;
  readonly postgres: string;
}

const DEBIAN_ROOT = '/usr/lib/postgresql';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function binariesIn(binDir: string, major: number): PgBinaries | null {
  const initdb = join(binDir, 'initdb');
  const postgres = join(binDir, 'postgres');
  return isExecutable(initdb) && isExecutable(postgres)
    ? { binDir, major, initdb, postgres }
    : null;
}

/** Every usable Debian-style install, newest major first. */
export function listDebianPgBinaries(root = DEBIAN_ROOT): PgBinaries[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d+(\.\d+)?$/.test(n))
    .map((n) => binariesIn(join(root, n, 'bin'), Math.floor(Number(n))))
    .filter((b): b is PgBinaries => b !== null)
    .sort((a, b) => b.major - a.major);
}

/**
 * Picks the binaries to run a data directory with: `binDir` when configured; else, for an
 * existing cluster, the install whose major matches its PG_VERSION (a newer major cannot open
 * it); else the newest Debian install, then PATH. Throws ERR_DB_BINARIES_NOT_FOUND.
 */
export function findPgBinaries(
  options: { binDir?: string | null; dataDir?: string; debianRoot?: string } = {},
): PgBinaries {
  const wanted = options.dataDir === undefined ? null : clusterMajor(options.dataDir);
  if (options.binDir !== undefined && options.binDir !== null) {
    const found = binariesIn(options.binDir, wanted ?? 0);
    if (found === null) {
      throw new ParapetError(
        'ERR_DB_BINARIES_NOT_FOUND',
        `database.binDir ${options.binDir} has no executable initdb and postgres`,
      );
    }
    return found;
  }
  const debian = listDebianPgBinaries(options.debianRoot);
  if (wanted !== null) {
    const match = debian.find((b) => b.major === wanted);
    if (match !== undefined) return match;
  } else if (debian[0] !== undefined) {
    return debian[0];
  }
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const found = binariesIn(dir, wanted ?? 0);
    if (found !== null) return found;
  }
  const need = wanted === null ? '' : ` for a version ${wanted} data directory`;
  throw new ParapetError(
    'ERR_DB_BINARIES_NOT_FOUND',
    `no PostgreSQL server binaries${need} (Debian: apt-get install postgresql${
      wanted === null ? '' : `-${wanted}`
    }); or set database.url to an external PostgreSQL`,
  );
}

/** The major version a data directory was created with, or null if it is not initialised. */
export function clusterMajor(dataDir: string): number | null {
  try {
    const text = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();
    const major = Math.floor(Number(text));
    return Number.isFinite(major) && major > 0 ? major : null;
  } catch {
    return null;
  }
}
