/**
 * The Policy tab: the Sieve editor (line-number gutter, Check with errors at line and column,
 * Save as a new version with Ctrl/Cmd-S), a test of the draft against one message, a replay
 * of the draft against the mail the node holds, the saved versions with diff and rollback,
 * and the policy's lists and maps. Viewers may check, test and replay; administrators save.
 */
import { api, ApiError, query, type SessionInfo } from '../../shared/api.js';
import { clear, h, notice, table } from '../../shared/dom.js';
import type { Tab } from '../tab.js';

interface Problem {
  readonly line: number;
  readonly column: number;
  readonly code: string;
  readonly message: string;
}
interface ActivePolicy {
  readonly script: string;
  readonly source: string;
  readonly version: number | null;
  readonly latest: number | null;
}
interface CheckResult {
  readonly valid: boolean;
  readonly errors: readonly Problem[];
  readonly warnings: readonly Problem[];
}
interface VersionMeta {
  readonly version: number;
  readonly author: string;
  readonly time: string;
  readonly comment: string;
  readonly sizeBytes: number;
  readonly rollbackOf: number | null;
}
interface Verdict {
  readonly kind: string;
  readonly rule: string;
  readonly detail: string;
}
interface TestResult {
  readonly valid: boolean;
  readonly errors?: readonly Problem[];
  readonly verdict?: Verdict;
  readonly actions?: readonly Record<string, unknown>[];
  readonly scan?: {
    readonly score: number;
    readonly threshold: number;
    readonly virus: string | null;
    readonly symbols: readonly { readonly name: string; readonly score: number }[];
  };
  readonly envelope?: { readonly from: string; readonly to: readonly string[] };
  readonly runtimeError?: boolean;
  readonly log?: readonly string[];
}
interface ReplayChange {
  readonly id: string;
  readonly time: string;
  readonly from: string | null;
  readonly subject: string | null;
  readonly old: Verdict;
  readonly new: Verdict;
}
interface ReplayResult {
  readonly valid: boolean;
  readonly errors?: readonly Problem[];
  readonly messages?: number;
  readonly changed?: number;
  readonly complete?: boolean;
  readonly changes?: readonly ReplayChange[];
}
interface DiffLine {
  readonly kind: 'same' | 'added' | 'removed';
  readonly text: string;
  readonly oldLine: number | null;
  readonly newLine: number | null;
}
interface ListRow {
  readonly name: string;
  readonly kind: 'list' | 'map';
  readonly description: string;
  readonly count: number;
  readonly exists: boolean;
}
interface ListView {
  readonly name: string;
  readonly kind: 'list' | 'map';
  readonly entries: readonly string[] | Readonly<Record<string, string>>;
}

const INDENT = '  ';
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const verdictText = (v: Verdict): string => (v.detail === '' ? v.kind : `${v.kind} (${v.detail})`);

/** Offset in `text` of 1-based `line` and `column` (UTF-16 code units, as the compiler counts). */
function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(offset + Math.max(0, column - 1), lineEnd);
}

/** The editor: a textarea with a line-number gutter that scrolls with it. */
class SieveEditor {
  readonly element: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  readonly #gutter: HTMLElement;
  #lines = 0;
  #marked = new Map<number, string>();
  /** After Escape, Tab leaves the editor (no keyboard trap). */
  #tabLeaves = false;

  constructor(onSave: () => void, onChange: () => void) {
    this.#gutter = h('div', { class: 'policy-gutter', 'aria-hidden': 'true' });
    this.textarea = h('textarea', {
      id: 'policy-script',
      class: 'code policy-text',
      spellcheck: 'false',
      autocapitalize: 'off',
      autocomplete: 'off',
      wrap: 'off',
      'aria-describedby': 'policy-editor-help policy-problems',
    });
    this.element = h('div', { class: 'policy-editor' }, this.#gutter, this.textarea);
    this.textarea.addEventListener('scroll', () => {
      this.#gutter.scrollTop = this.textarea.scrollTop;
    });
    this.textarea.addEventListener('input', () => {
      this.#renderGutter();
      onChange();
    });
    this.textarea.addEventListener('keydown', (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === 's') {
        ev.preventDefault();
        onSave();
        return;
      }
      if (ev.key === 'Escape') {
        this.#tabLeaves = true;
        return;
      }
      if (ev.key === 'Tab' && !this.#tabLeaves && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
        ev.preventDefault();
        this.#indent(ev.shiftKey);
        onChange();
        return;
      }
      this.#tabLeaves = false;
    });
    this.textarea.addEventListener('blur', () => {
      this.#tabLeaves = false;
    });
  }

  get value(): string {
    return this.textarea.value;
  }

  set value(text: string) {
    this.textarea.value = text;
    this.clearMarks();
    this.#renderGutter();
  }

  /** Tab inserts spaces at the caret (or indents the selected lines); Shift-Tab outdents. */
  #indent(outdent: boolean): void {
    const t = this.textarea;
    const { selectionStart: start, selectionEnd: end, value } = t;
    const lineStart = value.lastIndexOf('\n', start - 1) + 1;
    if (!outdent && start === end) {
      t.setRangeText(INDENT, start, end, 'end');
    } else {
      const block = value.slice(lineStart, end);
      const changed = outdent ? block.replace(/^ {1,2}/gm, '') : block.replace(/^/gm, INDENT);
      t.setRangeText(changed, lineStart, end, 'select');
    }
    this.#renderGutter();
  }

  #renderGutter(): void {
    const count = Math.max(1, this.value.split('\n').length);
    if (count === this.#lines) return;
    this.#lines = count;
    clear(this.#gutter);
    for (let i = 1; i <= count; i++) {
      const cell = h('div', { 'data-line': i }, String(i));
      const mark = this.#marked.get(i);
      if (mark !== undefined) {
        cell.classList.add('error');
        cell.title = mark;
      }
      this.#gutter.append(cell);
    }
    this.#gutter.append(h('div', { class: 'policy-gutter-end' }, ' '));
    this.#gutter.scrollTop = this.textarea.scrollTop;
  }

  clearMarks(): void {
    this.#marked.clear();
    for (const el of this.#gutter.querySelectorAll('.error')) {
      el.classList.remove('error');
      el.removeAttribute('title');
    }
  }

  /** Marks a line in the gutter (an error there). */
  mark(line: number, message: string): void {
    this.#marked.set(line, message);
    const cell = this.#gutter.querySelector(`[data-line="${String(line)}"]`);
    if (cell !== null) {
      cell.classList.add('error');
      cell.setAttribute('title', message);
    }
  }

  /** Moves the caret to a line and column and scrolls it into view. */
  goTo(line: number, column: number): void {
    const t = this.textarea;
    const offset = offsetOf(t.value, line, column);
    t.focus();
    t.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(t).lineHeight) || 20;
    t.scrollTop = Math.max(0, (line - 1) * lineHeight - t.clientHeight / 2);
    this.#gutter.scrollTop = t.scrollTop;
  }
}

function problemList(
  problems: readonly Problem[],
  editor: SieveEditor,
  kind: 'error' | 'warning',
): HTMLElement {
  return h(
    'ul',
    { class: `policy-problems ${kind}` },
    problems.map((p) => {
      const label = `Line ${String(p.line)}, column ${String(p.column)}: ${p.message}`;
      const go = h('button', { type: 'button', class: 'link' }, label);
      go.addEventListener('click', () => {
        editor.goTo(p.line, p.column);
      });
      return h('li', {}, kind === 'warning' ? 'Warning: ' : null, go);
    }),
  );
}

function actionText(a: Record<string, unknown>): string {
  const { type, ...rest } = a;
  const parts = Object.entries(rest)
    .filter(([, v]) => v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [String(type), ...parts].join(' ');
}

function diffView(lines: readonly DiffLine[], caption: string): HTMLElement {
  return h(
    'figure',
    { class: 'policy-diff' },
    h('figcaption', {}, caption),
    h(
      'pre',
      { tabindex: 0, 'aria-label': caption },
      lines.map((l) =>
        h(
          'span',
          { class: `diff-${l.kind}` },
          `${l.kind === 'added' ? '+' : l.kind === 'removed' ? '-' : ' '} ${l.text}`,
        ),
      ),
    ),
  );
}

async function renderPolicy(root: HTMLElement, session: SessionInfo): Promise<() => void> {
  const isAdmin = session.role === 'admin';
  let active = await api<ActivePolicy>('GET', 'policy');
  let loaded = active.script;
  let baseVersion = active.version;

  const status = h('p', { class: 'muted', id: 'policy-status' });
  const problems = h('div', { id: 'policy-problems', 'aria-live': 'polite' });
  const comment = h('input', {
    id: 'policy-comment',
    maxlength: 500,
    placeholder: 'what changed and why',
  });
  const editor = new SieveEditor(
    () => void save(),
    () => {
      showStatus();
    },
  );
  editor.value = active.script;

  const showStatus = (): void => {
    const dirty = editor.value !== loaded;
    const v =
      active.version === null ? 'not saved as a version' : `version ${String(active.version)}`;
    status.textContent = `Active: ${active.source}, ${v}.${dirty ? ' Unsaved changes in the editor.' : ''}`;
  };

  const showProblems = (
    r: CheckResult | { errors: readonly Problem[]; warnings?: readonly Problem[] },
  ): void => {
    clear(problems);
    editor.clearMarks();
    const errors = r.errors;
    const warnings = r.warnings ?? [];
    for (const e of errors) editor.mark(e.line, e.message);
    if (errors.length > 0) {
      problems.append(
        notice(
          `The policy does not compile (${String(errors.length)} error${errors.length > 1 ? 's' : ''}).`,
          'error',
        ),
        problemList(errors, editor, 'error'),
      );
      const first = errors[0];
      if (first !== undefined) editor.goTo(first.line, first.column);
    } else {
      problems.append(notice('The policy compiles.'));
    }
    if (warnings.length > 0) problems.append(problemList(warnings, editor, 'warning'));
  };

  const check = async (): Promise<void> => {
    try {
      showProblems(await api<CheckResult>('POST', 'policy/check', { script: editor.value }));
    } catch (err) {
      clear(problems);
      problems.append(notice(errorText(err), 'error'));
    }
  };

  const save = async (): Promise<void> => {
    if (!isAdmin) {
      clear(problems);
      problems.append(notice('Only administrators can save the policy.', 'error'));
      return;
    }
    try {
      const r = await api<{ version: VersionMeta; diff: { added: number; removed: number } }>(
        'PUT',
        'policy',
        { script: editor.value, comment: comment.value, baseVersion },
      );
      active = await api<ActivePolicy>('GET', 'policy');
      loaded = active.script;
      baseVersion = active.version;
      comment.value = '';
      editor.clearMarks();
      clear(problems);
      problems.append(
        notice(
          `Saved as version ${String(r.version.version)} (+${String(r.diff.added)} −${String(r.diff.removed)} lines). The policy service loads it within seconds.`,
        ),
      );
      showStatus();
      await loadVersions();
    } catch (err) {
      if (err instanceof ApiError && Array.isArray(err.body['errors'])) {
        showProblems({ errors: err.body['errors'] as Problem[] });
        return;
      }
      clear(problems);
      problems.append(notice(errorText(err), 'error'));
    }
  };

  const checkButton = h('button', { type: 'button' }, 'Check');
  checkButton.addEventListener('click', () => void check());
  const saveButton = h('button', { type: 'button' }, 'Save');
  saveButton.addEventListener('click', () => void save());
  const revertButton = h('button', { type: 'button', class: 'secondary' }, 'Revert to active');
  revertButton.addEventListener('click', () => {
    editor.value = loaded;
    clear(problems);
    showStatus();
  });

  const editorSection = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'policy-editor-title' },
    h('h2', { id: 'policy-editor-title' }, 'Sieve policy'),
    status,
    h('label', { for: 'policy-script' }, 'Policy script'),
    h(
      'p',
      { id: 'policy-editor-help', class: 'muted small' },
      'Tab indents; press Escape, then Tab, to leave the editor. Ctrl+S (⌘S) saves.',
    ),
    editor.element,
    h(
      'div',
      { class: 'toolbar' },
      checkButton,
      isAdmin
        ? h(
            'span',
            { class: 'policy-comment' },
            h('label', { for: 'policy-comment' }, 'Comment'),
            comment,
          )
        : null,
      isAdmin ? saveButton : null,
      revertButton,
    ),
    problems,
  );

  // Test against a message.
  const msgText = h('textarea', {
    id: 'policy-test-message',
    class: 'code small-code',
    rows: 8,
    spellcheck: 'false',
  });
  const msgFile = h('input', {
    id: 'policy-test-file',
    type: 'file',
    accept: '.eml,message/rfc822,text/plain',
  });
  msgFile.addEventListener('change', () => {
    const f = msgFile.files?.[0];
    if (f === undefined) return;
    if (f.size > 5 * 1024 * 1024) {
      clear(testOut);
      testOut.append(notice('The file is larger than 5 MB.', 'error'));
      return;
    }
    void f.text().then((t) => {
      msgText.value = t;
    });
  });
  const envFrom = h('input', {
    id: 'policy-test-from',
    placeholder: 'from the From header',
    autocomplete: 'off',
  });
  const envTo = h('input', {
    id: 'policy-test-to',
    placeholder: 'from the To header',
    autocomplete: 'off',
  });
  const spamScore = h('input', {
    id: 'policy-test-score',
    type: 'number',
    step: 'any',
    placeholder: 'as scanned',
  });
  const virus = h(
    'select',
    { id: 'policy-test-virus' },
    h('option', { value: '' }, 'as scanned'),
    h('option', { value: 'clean' }, 'clean'),
    h('option', { value: 'infected' }, 'infected'),
    h('option', { value: 'unscanned' }, 'unscanned'),
  );
  const testOut = h('div', { 'aria-live': 'polite' });
  const testForm = h(
    'form',
    { class: 'policy-test', 'aria-labelledby': 'policy-test-title' },
    h('h2', { id: 'policy-test-title' }, 'Test against a message'),
    h('p', {}, h('label', { for: 'policy-test-message' }, 'Message (raw RFC 5322 text)'), msgText),
    h('p', {}, h('label', { for: 'policy-test-file' }, 'Or load an .eml file'), msgFile),
    h(
      'div',
      { class: 'grid' },
      h('p', {}, h('label', { for: 'policy-test-from' }, 'Envelope sender'), envFrom),
      h(
        'p',
        {},
        h('label', { for: 'policy-test-to' }, 'Envelope recipients (comma-separated)'),
        envTo,
      ),
      h('p', {}, h('label', { for: 'policy-test-score' }, 'Spam score'), spamScore),
      h('p', {}, h('label', { for: 'policy-test-virus' }, 'Virus scan'), virus),
    ),
    h('button', { type: 'submit' }, 'Run test'),
    testOut,
  );
  testForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(testOut);
    if (msgText.value.trim() === '') {
      testOut.append(notice('Paste a message or load a file first.', 'error'));
      return;
    }
    const envelope: Record<string, unknown> = {};
    if (envFrom.value.trim() !== '') envelope['from'] = envFrom.value.trim();
    const to = envTo.value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (to.length > 0) envelope['to'] = to;
    const scan: Record<string, unknown> = {};
    if (spamScore.value !== '') scan['score'] = Number(spamScore.value);
    if (virus.value !== '') scan['virus'] = virus.value;
    api<TestResult>('POST', 'policy/test', {
      script: editor.value,
      message: msgText.value,
      ...(Object.keys(envelope).length > 0 ? { envelope } : {}),
      ...(Object.keys(scan).length > 0 ? { scan } : {}),
    })
      .then((r) => {
        if (!r.valid || r.verdict === undefined) {
          showProblems({ errors: r.errors ?? [] });
          testOut.append(notice('The draft does not compile; see the errors above.', 'error'));
          return;
        }
        testOut.append(
          h(
            'dl',
            { class: 'policy-result' },
            h('dt', {}, 'Verdict'),
            h('dd', { class: `verdict verdict-${r.verdict.kind}` }, verdictText(r.verdict)),
            h('dt', {}, 'Rule'),
            h('dd', {}, r.verdict.rule || '—'),
            h('dt', {}, 'Envelope'),
            h('dd', {}, `${r.envelope?.from || '<>'} → ${(r.envelope?.to ?? []).join(', ')}`),
            h('dt', {}, 'Scan'),
            h(
              'dd',
              {},
              `score ${String(r.scan?.score ?? 0)} / ${String(r.scan?.threshold ?? 0)}` +
                (r.scan?.virus ? `, virus: ${r.scan.virus}` : '') +
                ((r.scan?.symbols.length ?? 0) > 0
                  ? `; ${(r.scan?.symbols ?? []).map((s) => `${s.name} ${String(s.score)}`).join(', ')}`
                  : ''),
            ),
            h('dt', {}, 'Actions'),
            h(
              'dd',
              {},
              h(
                'ol',
                {},
                (r.actions ?? []).map((a) => h('li', {}, h('code', {}, actionText(a)))),
              ),
            ),
            h('dt', {}, 'Log'),
            h(
              'dd',
              {},
              h(
                'ul',
                {},
                (r.log ?? []).map((l) => h('li', {}, l)),
              ),
            ),
          ),
        );
      })
      .catch((err: unknown) => {
        testOut.append(notice(errorText(err), 'error'));
      });
  });

  // Replay against recent mail.
  const limit = h('input', {
    id: 'policy-replay-limit',
    type: 'number',
    min: 1,
    max: 500,
    value: 100,
  });
  const replayOut = h('div', { 'aria-live': 'polite' });
  const replayForm = h(
    'form',
    { 'aria-labelledby': 'policy-replay-title' },
    h('h2', { id: 'policy-replay-title' }, 'Replay against recent mail'),
    h(
      'p',
      { class: 'muted' },
      'Runs the draft next to the active policy over the newest messages this node still holds (its quarantine) and lists those whose verdict changes.',
    ),
    h(
      'div',
      { class: 'toolbar' },
      h('span', {}, h('label', { for: 'policy-replay-limit' }, 'Messages'), limit),
      h('button', { type: 'submit' }, 'Replay'),
    ),
    replayOut,
  );
  replayForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(replayOut);
    replayOut.append(h('p', { class: 'muted' }, 'Replaying…'));
    api<ReplayResult>('POST', 'policy/replay', {
      script: editor.value,
      limit: Number(limit.value) || 100,
    })
      .then((r) => {
        clear(replayOut);
        if (!r.valid) {
          showProblems({ errors: r.errors ?? [] });
          replayOut.append(notice('The draft does not compile; see the errors above.', 'error'));
          return;
        }
        replayOut.append(
          h(
            'p',
            {},
            `${String(r.messages ?? 0)} messages replayed, ${String(r.changed ?? 0)} would change.` +
              (r.complete === false ? ' (Stopped early: time limit.)' : ''),
          ),
        );
        const changes = r.changes ?? [];
        if (changes.length > 0) {
          replayOut.append(
            h(
              'div',
              { class: 'table-wrap' },
              table(
                changes,
                [
                  ['Received', (c) => new Date(c.time).toLocaleString()],
                  ['From', (c) => c.from ?? '<>'],
                  ['Subject', (c) => c.subject ?? ''],
                  ['Now', (c) => verdictText(c.old)],
                  ['With the draft', (c) => h('strong', {}, verdictText(c.new))],
                  ['Rule', (c) => c.new.rule],
                ],
                'Messages whose verdict changes',
              ),
            ),
          );
        }
      })
      .catch((err: unknown) => {
        clear(replayOut);
        replayOut.append(notice(errorText(err), 'error'));
      });
  });

  // Versions.
  const versionsBox = h('div', { 'aria-live': 'polite' });
  const diffBox = h('div', {});
  const loadVersions = async (): Promise<void> => {
    const r = await api<{ active: number | null; versions: readonly VersionMeta[] }>(
      'GET',
      'policy/versions',
    );
    clear(versionsBox);
    if (r.versions.length === 0) {
      versionsBox.append(
        h(
          'p',
          { class: 'muted' },
          'No saved versions yet: the first save records the current policy too.',
        ),
      );
      return;
    }
    versionsBox.append(
      h(
        'div',
        { class: 'table-wrap' },
        table(
          r.versions,
          [
            [
              'Version',
              (v) =>
                v.version === r.active
                  ? h('strong', {}, `${String(v.version)} (active)`)
                  : String(v.version),
            ],
            ['Saved', (v) => new Date(v.time).toLocaleString()],
            ['By', (v) => v.author],
            ['Comment', (v) => v.comment],
            [
              'Actions',
              (v) => {
                const showDiff = h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    'aria-label': `Diff version ${String(v.version)} with the active policy`,
                  },
                  'Diff',
                );
                showDiff.addEventListener('click', () => {
                  void api<{ lines: DiffLine[]; added: number; removed: number }>(
                    'GET',
                    `policy/diff${query({ from: v.version })}`,
                  )
                    .then((d) => {
                      clear(diffBox);
                      diffBox.append(
                        diffView(
                          d.lines,
                          `Version ${String(v.version)} → active policy: +${String(d.added)} −${String(d.removed)} lines`,
                        ),
                      );
                    })
                    .catch((err: unknown) => {
                      clear(diffBox);
                      diffBox.append(notice(errorText(err), 'error'));
                    });
                });
                const load = h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    'aria-label': `Load version ${String(v.version)} into the editor`,
                  },
                  'Load',
                );
                load.addEventListener('click', () => {
                  void api<{ script: string }>('GET', `policy/versions/${String(v.version)}`).then(
                    (x) => {
                      editor.value = x.script;
                      showStatus();
                      editor.textarea.focus();
                    },
                  );
                });
                const rollback = h(
                  'button',
                  {
                    type: 'button',
                    class: 'danger',
                    'aria-label': `Roll back to version ${String(v.version)}`,
                  },
                  'Roll back',
                );
                rollback.addEventListener('click', () => {
                  if (!confirm(`Make version ${String(v.version)} the active policy again?`))
                    return;
                  void api<{ version: VersionMeta }>(
                    'POST',
                    `policy/versions/${String(v.version)}/rollback`,
                    {},
                  )
                    .then(async (x) => {
                      active = await api<ActivePolicy>('GET', 'policy');
                      loaded = active.script;
                      baseVersion = active.version;
                      editor.value = active.script;
                      clear(problems);
                      problems.append(
                        notice(
                          `Rolled back: version ${String(x.version.version)} holds version ${String(v.version)}’s text.`,
                        ),
                      );
                      showStatus();
                      await loadVersions();
                    })
                    .catch((err: unknown) => {
                      clear(problems);
                      problems.append(notice(errorText(err), 'error'));
                    });
                });
                return h(
                  'span',
                  { class: 'row-actions' },
                  showDiff,
                  load,
                  isAdmin && v.version !== r.active ? rollback : null,
                );
              },
            ],
          ],
          'Saved versions, newest first',
        ),
      ),
    );
    if (r.versions.length > 1) versionsBox.append(compareForm(r.versions));
  };

  /** Two versions side by side: pick the old and the new one. */
  const compareForm = (versions: readonly VersionMeta[]): HTMLElement => {
    const pick = (id: string, selected: number | undefined): HTMLSelectElement =>
      h(
        'select',
        { id },
        versions.map((v) =>
          h('option', { value: v.version, selected: v.version === selected }, String(v.version)),
        ),
      );
    const from = pick('policy-diff-from', versions[1]?.version);
    const to = pick('policy-diff-to', versions[0]?.version);
    const form = h(
      'form',
      { class: 'toolbar' },
      h('span', {}, h('label', { for: 'policy-diff-from' }, 'Compare version'), from),
      h('span', {}, h('label', { for: 'policy-diff-to' }, 'with version'), to),
      h('button', { type: 'submit', class: 'secondary' }, 'Show diff'),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      api<{ lines: DiffLine[]; added: number; removed: number }>(
        'GET',
        `policy/diff${query({ from: from.value, to: to.value })}`,
      )
        .then((d) => {
          clear(diffBox);
          diffBox.append(
            diffView(
              d.lines,
              `Version ${from.value} → version ${to.value}: +${String(d.added)} −${String(d.removed)} lines`,
            ),
          );
        })
        .catch((err: unknown) => {
          clear(diffBox);
          diffBox.append(notice(errorText(err), 'error'));
        });
    });
    return form;
  };

  // Lists and maps.
  const listsBox = h('div', {});
  const listDetail = h('div', { 'aria-live': 'polite' });
  const loadLists = async (): Promise<void> => {
    const r = await api<{ lists: readonly ListRow[] }>('GET', 'lists');
    clear(listsBox);
    listsBox.append(
      h(
        'div',
        { class: 'table-wrap' },
        table(
          r.lists,
          [
            ['Name', (l) => l.name],
            ['Kind', (l) => l.kind],
            ['Entries', (l) => (l.exists ? String(l.count) : 'not created')],
            [
              'Actions',
              (l) => {
                const open = h(
                  'button',
                  { type: 'button', class: 'secondary', 'aria-label': `Open ${l.kind} ${l.name}` },
                  'Open',
                );
                open.addEventListener('click', () => void openList(l.name, l.kind));
                return open;
              },
            ],
          ],
          'Lists and maps the policy can use (listed, mapped)',
        ),
      ),
    );
  };
  const openList = async (name: string, kind: 'list' | 'map'): Promise<void> => {
    clear(listDetail);
    let view: ListView = { name, kind, entries: kind === 'list' ? [] : {} };
    try {
      view = await api<ListView>('GET', `lists/${encodeURIComponent(name)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404)) {
        listDetail.append(notice(errorText(err), 'error'));
        return;
      }
    }
    const out = h('div', { 'aria-live': 'polite' });
    const refresh = (): void => {
      void openList(name, view.kind).then(loadLists);
    };
    const remove = (entry: string): void => {
      api('DELETE', `lists/${encodeURIComponent(name)}/entries`, { entries: [entry] })
        .then(refresh)
        .catch((err: unknown) => {
          out.append(notice(errorText(err), 'error'));
        });
    };
    const rows: [string, string][] = Array.isArray(view.entries)
      ? (view.entries as readonly string[]).map((e) => [e, ''])
      : Object.entries(view.entries);
    const input = h('input', {
      id: 'policy-list-add',
      autocomplete: 'off',
      placeholder:
        view.kind === 'list'
          ? 'user@example.com, example.com, *.example.com, 192.0.2.0/24'
          : 'key value',
    });
    const addForm = h(
      'form',
      { class: 'toolbar' },
      h(
        'span',
        {},
        h(
          'label',
          { for: 'policy-list-add' },
          view.kind === 'list'
            ? 'Add entries (space or comma separated)'
            : 'Add a key and its value',
        ),
        input,
      ),
      h('button', { type: 'submit' }, 'Add'),
    );
    addForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      let body: Record<string, unknown>;
      if (view.kind === 'list') {
        const entries = input.value.split(/[\s,]+/).filter((s) => s !== '');
        if (entries.length === 0) return;
        body = { entries };
      } else {
        const m = /^\s*(\S+)\s+(.*)$/.exec(input.value);
        if (m === null) {
          out.append(notice('Give a key, a space, then the value.', 'error'));
          return;
        }
        body = { map: { [m[1] ?? '']: (m[2] ?? '').trim() } };
      }
      api('POST', `lists/${encodeURIComponent(name)}/entries`, body)
        .then(refresh)
        .catch((err: unknown) => {
          out.append(notice(errorText(err), 'error'));
        });
    });
    listDetail.append(
      h(
        'section',
        { class: 'policy-list', 'aria-labelledby': 'policy-list-title' },
        h('h3', { id: 'policy-list-title' }, `${view.kind === 'list' ? 'List' : 'Map'} ${name}`),
        rows.length === 0
          ? h('p', { class: 'muted' }, 'No entries.')
          : h(
              'div',
              { class: 'table-wrap' },
              table(rows, [
                [view.kind === 'list' ? 'Entry' : 'Key', ([k]) => k],
                ...(view.kind === 'map'
                  ? [['Value', ([, v]: [string, string]) => v] as const]
                  : []),
                [
                  'Actions',
                  ([k]) => {
                    if (!isAdmin) return null;
                    const b = h(
                      'button',
                      { type: 'button', class: 'secondary', 'aria-label': `Remove ${k}` },
                      'Remove',
                    );
                    b.addEventListener('click', () => {
                      remove(k);
                    });
                    return b;
                  },
                ],
              ]),
            ),
        isAdmin ? addForm : null,
        out,
      ),
    );
  };
  const newName = h('input', {
    id: 'policy-list-new',
    pattern: '[A-Za-z0-9._-]{1,64}',
    autocomplete: 'off',
  });
  const newKind = h(
    'select',
    { id: 'policy-list-kind' },
    h('option', { value: 'list' }, 'list'),
    h('option', { value: 'map' }, 'map'),
  );
  const newForm = h(
    'form',
    { class: 'toolbar' },
    h('span', {}, h('label', { for: 'policy-list-new' }, 'New list or map name'), newName),
    h('span', {}, h('label', { for: 'policy-list-kind' }, 'Kind'), newKind),
    h('button', { type: 'submit' }, 'Create'),
  );
  newForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = newName.value.trim();
    const kind = newKind.value === 'map' ? 'map' : 'list';
    api('PUT', `lists/${encodeURIComponent(name)}`, { kind, entries: kind === 'list' ? [] : {} })
      .then(async () => {
        newName.value = '';
        await loadLists();
        await openList(name, kind);
      })
      .catch((err: unknown) => {
        clear(listDetail);
        listDetail.append(notice(errorText(err), 'error'));
      });
  });

  root.append(
    h('h1', {}, 'Policy'),
    editorSection,
    h('section', { class: 'panel' }, testForm),
    h('section', { class: 'panel' }, replayForm),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'policy-versions-title' },
      h('h2', { id: 'policy-versions-title' }, 'Versions'),
      versionsBox,
      diffBox,
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'policy-lists-title' },
      h('h2', { id: 'policy-lists-title' }, 'Lists and maps'),
      listsBox,
      isAdmin ? newForm : null,
      listDetail,
    ),
  );
  showStatus();
  await Promise.all([loadVersions(), loadLists()]);

  const beforeUnload = (ev: BeforeUnloadEvent): void => {
    if (editor.value !== loaded) ev.preventDefault();
  };
  window.addEventListener('beforeunload', beforeUnload);
  return () => {
    window.removeEventListener('beforeunload', beforeUnload);
  };
}

export const policyTab: Tab = {
  id: 'policy',
  title: 'Policy',
  render: (root, session) => renderPolicy(root, session),
};
