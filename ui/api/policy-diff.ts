/**
 * A line-based diff of two policy texts (versions view, audit log sizes): the longest common
 * subsequence of lines after trimming the common head and tail. The LCS table is bounded by
 * `maxCells`; past it the changed middle is shown as removed-then-added (`exact: false`), so a
 * huge script costs memory in proportion to the bound, never to its size squared.
 */

/** One line of a diff; line numbers are 1-based in the old and the new text. */
export interface DiffLine {
  readonly kind: 'same' | 'added' | 'removed';
  readonly text: string;
  readonly oldLine: number | null;
  readonly newLine: number | null;
}

export interface LineDiff {
  readonly lines: readonly DiffLine[];
  readonly added: number;
  readonly removed: number;
  /** False when the middle was too large for the LCS table (still a correct edit script). */
  readonly exact: boolean;
}

/** Default bound of the LCS table: 4 million cells (16 MB). */
export const MAX_DIFF_CELLS = 4_000_000;

/** Lines of a text; a final newline does not start another (empty) line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r\n|\n|\r/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The diff of `before` → `after`. */
export function diffLines(before: string, after: string, maxCells = MAX_DIFF_CELLS): LineDiff {
  const a = splitLines(before);
  const b = splitLines(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  ) {
    tail++;
  }
  const out: DiffLine[] = [];
  const same = (i: number, j: number): void => {
    out.push({ kind: 'same', text: a[i] ?? '', oldLine: i + 1, newLine: j + 1 });
  };
  const removed = (i: number): void => {
    out.push({ kind: 'removed', text: a[i] ?? '', oldLine: i + 1, newLine: null });
  };
  const added = (j: number): void => {
    out.push({ kind: 'added', text: b[j] ?? '', oldLine: null, newLine: j + 1 });
  };
  for (let k = 0; k < head; k++) same(k, k);
  const n = a.length - head - tail;
  const m = b.length - head - tail;
  let exact = true;
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= maxCells) {
    // table[i][j] = LCS length of a[head+i..] and b[head+j..] (suffixes), so the walk goes forward.
    const w = m + 1;
    const table = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i * w + j] =
          a[head + i] === b[head + j]
            ? (table[(i + 1) * w + j + 1] ?? 0) + 1
            : Math.max(table[(i + 1) * w + j] ?? 0, table[i * w + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[head + i] === b[head + j]) {
        same(head + i++, head + j++);
      } else if ((table[(i + 1) * w + j] ?? 0) >= (table[i * w + j + 1] ?? 0)) {
        removed(head + i++);
      } else {
        added(head + j++);
      }
    }
    while (i < n) removed(head + i++);
    while (j < m) added(head + j++);
  } else {
    exact = n === 0 || m === 0;
    for (let i = 0; i < n; i++) removed(head + i);
    for (let j = 0; j < m; j++) added(head + j);
  }
  for (let k = tail; k > 0; k--) same(a.length - k, b.length - k);
  return {
    lines: out,
    added: out.filter((l) => l.kind === 'added').length,
    removed: out.filter((l) => l.kind === 'removed').length,
    exact,
  };
}
