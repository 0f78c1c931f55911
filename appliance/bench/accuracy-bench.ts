/**
 * `npm run bench:accuracy` — the corpus evaluation protocol (CONTRACTS.md): spam recall, ham
 * false-positive rate (easy and hard separately), precision and F1 on TEST, first with the
 * rules alone (untrained), then with rules + Bayes trained on TRAIN. Offline; "now" is pinned
 * to each message's receipt time (its mbox `From ` line), so date rules judge 2002 mail as
 * they would have in 2002. A message is spam when its total score reaches the threshold
 * (DEFAULT_SPAM_THRESHOLD, 5).
 *
 * Flags:
 *   --cv          also run 5-fold cross-validation on TRAIN alone (how the Bayes band scores
 *                 were chosen: TEST is never used for tuning) and print the band histogram
 *   --tune        with --cv's records, search band scores (local search from several starts)
 *                 that maximise F1 on held-out TRAIN under false-positive limits just below the
 *                 targets; prints them and what they give on TEST (TEST is only reported, never
 *                 searched)
 *   --train-only  run only --cv (and --tune) on TRAIN; TEST is not even loaded
 *   --list        print the misclassified TEST messages with their symbols
 *   --json FILE   also write the figures as JSON
 *   --skip-reference  do not run SpamAssassin or rspamd even when installed
 *
 * When spamd, spamc and sa-learn are installed, SpamAssassin runs under the same protocol
 * (reference-filters.ts) and its rows join the table; so does rspamd when rspamd and
 * redis-server are installed (network modules off, Bayes in a private redis, learned from
 * TRAIN through its controller; its date rule judges against each message's receipt time).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  DEFAULT_SPAM_THRESHOLD,
  combineScanOutputs,
  type Message,
  type Scanner,
  type ScannerOutput,
} from '../../filter/index.js';
import { createRuleScanner } from '../../filter/index.js';
import {
  BAYES_BANDS,
  MemoryTokenStore,
  createBayesScanner,
  createBayesTrainer,
  messageFromFileBytes,
} from '../../filter/index.js';
import {
  RspamdReference,
  SpamAssassinReference,
  rspamdUnavailableReason,
  spamAssassinUnavailableReason,
} from './reference-filters.js';
import {
  CORPUS_ERA_END,
  countByKind,
  loadCorpusSplit,
  type SplitKind,
  type SplitMessage,
} from './corpus-split.js';

/** A loaded message and its parsed form (parsed once, scanned many times). */
interface Sample {
  readonly meta: SplitMessage;
  readonly message: Message;
}

/** Accuracy figures of one configuration on one set. */
export interface AccuracyFigures {
  readonly label: string;
  readonly spam: number;
  readonly easyHam: number;
  readonly hardHam: number;
  readonly truePositives: number;
  readonly falsePositivesEasy: number;
  readonly falsePositivesHard: number;
  readonly recall: number;
  readonly fprEasy: number;
  readonly fprHard: number;
  readonly precision: number;
  readonly f1: number;
}

/** Figures from per-message verdicts. */
export function accuracyFigures(
  label: string,
  verdicts: readonly { kind: SplitKind; spam: boolean }[],
): AccuracyFigures {
  const total: Record<SplitKind, number> = { spam: 0, 'easy-ham': 0, 'hard-ham': 0 };
  const flagged: Record<SplitKind, number> = { spam: 0, 'easy-ham': 0, 'hard-ham': 0 };
  for (const v of verdicts) {
    total[v.kind]++;
    if (v.spam) flagged[v.kind]++;
  }
  const tp = flagged.spam;
  const fp = flagged['easy-ham'] + flagged['hard-ham'];
  const recall = total.spam > 0 ? tp / total.spam : 0;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  return {
    label,
    spam: total.spam,
    easyHam: total['easy-ham'],
    hardHam: total['hard-ham'],
    truePositives: tp,
    falsePositivesEasy: flagged['easy-ham'],
    falsePositivesHard: flagged['hard-ham'],
    recall,
    fprEasy: total['easy-ham'] > 0 ? flagged['easy-ham'] / total['easy-ham'] : 0,
    fprHard: total['hard-ham'] > 0 ? flagged['hard-ham'] / total['hard-ham'] : 0,
    precision,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
  };
}

function pct(value: number, digits = 2): string {
  return `${(value * 100).toFixed(digits)}%`;
}

function printFigures(rows: readonly AccuracyFigures[]): void {
  const head = ['configuration', 'recall', 'FPR easy', 'FPR hard', 'precision', 'F1'];
  const lines = rows.map((r) => [
    r.label,
    `${pct(r.recall, 1)} (${String(r.truePositives)}/${String(r.spam)})`,
    `${pct(r.fprEasy)} (${String(r.falsePositivesEasy)}/${String(r.easyHam)})`,
    `${pct(r.fprHard, 1)} (${String(r.falsePositivesHard)}/${String(r.hardHam)})`,
    r.precision.toFixed(4),
    r.f1.toFixed(4),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  console.log(fmt(head));
  for (const l of lines) console.log(fmt(l));
}

/** A clock the benchmark moves to each message's receipt time before scanning it. */
class PinnedClock {
  #now: Date = CORPUS_ERA_END;
  set(meta: SplitMessage): void {
    this.#now = meta.receivedAt ?? CORPUS_ERA_END;
  }
  readonly now = (): Date => this.#now;
}

async function loadSamples(split: 'train' | 'test'): Promise<Sample[]> {
  const metas = await loadCorpusSplit(split);
  return Promise.all(
    metas.map(async (meta) => ({ meta, message: await messageFromFileBytes(meta.file) })),
  );
}

/** One message's outputs: the rules' (untrained) and the Bayes scanner's, kept apart. */
interface ScanRecord {
  readonly sample: Sample;
  readonly kind: SplitKind;
  readonly rules: ScannerOutput;
  /** The Bayes band symbol, or null when the store is not trained. */
  readonly band: string | null;
  readonly bayes: ScannerOutput;
}

interface ScanVerdict {
  readonly sample: Sample;
  readonly kind: SplitKind;
  readonly score: number;
  readonly spam: boolean;
  readonly symbols: string;
}

/** Runs the rules and (when given) the Bayes scanner over every sample, at its receipt time. */
async function scanAll(
  samples: readonly Sample[],
  rules: Scanner,
  bayes: Scanner | null,
  clock: PinnedClock,
): Promise<ScanRecord[]> {
  const records: ScanRecord[] = [];
  const signal = new AbortController().signal;
  for (const sample of samples) {
    clock.set(sample.meta);
    const rulesOutput = await rules.scan(sample.message, signal);
    const bayesOutput =
      bayes === null ? { findings: [] } : await bayes.scan(sample.message, signal);
    records.push({
      sample,
      kind: sample.meta.kind,
      rules: rulesOutput,
      band: bayesOutput.findings[0]?.symbol ?? null,
      bayes: bayesOutput,
    });
  }
  return records;
}

/**
 * Verdicts from records: rules alone, or rules + Bayes with the band scored by `bandScores`
 * (default: the score the scanner reported, i.e. the configured defaults).
 */
function verdictsOf(
  records: readonly ScanRecord[],
  withBayes: boolean,
  bandScores?: ReadonlyMap<string, number>,
): ScanVerdict[] {
  return records.map((r) => {
    const outputs: ScannerOutput[] = [r.rules];
    if (withBayes) {
      outputs.push({
        findings: r.bayes.findings.map((f) => ({
          ...f,
          score: bandScores?.get(f.symbol) ?? f.score,
        })),
      });
    }
    const result = combineScanOutputs(outputs, [], DEFAULT_SPAM_THRESHOLD);
    return {
      sample: r.sample,
      kind: r.kind,
      score: result.score,
      spam: result.spam,
      symbols: result.findings.map((f) => `${f.symbol}(${String(f.score)})`).join(' '),
    };
  });
}

async function train(samples: readonly Sample[], clock: PinnedClock): Promise<MemoryTokenStore> {
  const store = new MemoryTokenStore();
  const trainer = createBayesTrainer(store, { now: clock.now });
  for (const sample of samples) {
    clock.set(sample.meta);
    await trainer.learn(sample.message, sample.meta.kind === 'spam' ? 'spam' : 'ham');
  }
  return store;
}

/** Messages of each kind per Bayes band. */
function printBandHistogram(title: string, records: readonly ScanRecord[]): void {
  console.log(`\n${title}`);
  console.log(
    `${'band'.padEnd(10)} ${'spam'.padStart(6)} ${'easy'.padStart(6)} ${'hard'.padStart(6)}`,
  );
  for (const band of BAYES_BANDS) {
    const row: Record<SplitKind, number> = { spam: 0, 'easy-ham': 0, 'hard-ham': 0 };
    for (const r of records) if (r.band === band.symbol) row[r.kind]++;
    console.log(
      `${band.symbol.padEnd(10)} ${String(row.spam).padStart(6)} ${String(row['easy-ham']).padStart(6)} ` +
        String(row['hard-ham']).padStart(6),
    );
  }
}

/**
 * 5-fold cross-validation inside TRAIN (folds by id mod 5): Bayes trained on four folds
 * scans the fifth. TEST is never looked at.
 */
async function crossValidate(
  samples: readonly Sample[],
  clock: PinnedClock,
): Promise<ScanRecord[]> {
  const records: ScanRecord[] = [];
  const rules = createRuleScanner({ now: clock.now });
  for (let fold = 0; fold < 5; fold++) {
    const store = await train(
      samples.filter((s) => s.meta.id % 5 !== fold),
      clock,
    );
    // The folds hold ~400 spam: score from fewer than the scanner's usual minimum.
    const bayes = createBayesScanner(store, {
      now: clock.now,
      touchOnScan: false,
      minSpam: 100,
      minHam: 100,
    });
    records.push(
      ...(await scanAll(
        samples.filter((s) => s.meta.id % 5 === fold),
        rules,
        bayes,
        clock,
      )),
    );
  }
  return records;
}

/** Band scores stay within these bounds: Bayes alone never reaches the threshold, and a strong
 * rule verdict still wins against BAYES_00. */
const BAND_SCORE_MIN = -3;
const BAND_SCORE_MAX = 4.5;

/**
 * Band scores by local search on cross-validated TRAIN records, from several starting points
 * (the current defaults, SpamAssassin's, and a few seeded random ones): each pass moves one
 * band, or a band with all bands above or below it, by up to ±3 in steps of 0.1, keeping scores
 * rising with the band and within the bounds, and keeps a move when F1 improves under the
 * false-positive limits (over the limits, the search first reduces the excess). Deterministic.
 */
function tuneBandScores(
  records: readonly ScanRecord[],
  maxFprEasy: number,
  maxFprHard: number,
): Map<string, number> {
  // Numbers only in the inner loop: rules score, band index and kind per record.
  const bandIndex = new Map(BAYES_BANDS.map((b, i) => [b.symbol, i]));
  const rulesScore = records.map((r) => r.rules.findings.reduce((sum, f) => sum + f.score, 0));
  const band = records.map((r) => (r.band === null ? -1 : (bandIndex.get(r.band) ?? -1)));
  const kind = records.map((r) => r.kind);
  const totals = countByKind(records.map((r) => r.sample.meta));
  const scores = BAYES_BANDS.map((b) => b.defaultScore);
  const evaluate = (): number => {
    let tp = 0;
    let fpEasy = 0;
    let fpHard = 0;
    for (let i = 0; i < records.length; i++) {
      const b = band[i] ?? -1;
      const total = (rulesScore[i] ?? 0) + (b >= 0 ? (scores[b] ?? 0) : 0);
      if (Math.round(total * 1000) / 1000 < DEFAULT_SPAM_THRESHOLD) continue;
      if (kind[i] === 'spam') tp++;
      else if (kind[i] === 'easy-ham') fpEasy++;
      else fpHard++;
    }
    const fprEasy = fpEasy / Math.max(1, totals['easy-ham']);
    const fprHard = fpHard / Math.max(1, totals['hard-ham']);
    const over = Math.max(0, fprEasy - maxFprEasy) + Math.max(0, fprHard - maxFprHard);
    if (over > 0) return -over;
    const recall = tp / Math.max(1, totals.spam);
    const precision = tp / Math.max(1, tp + fpEasy + fpHard);
    return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  };
  // Signs follow the evidence: bands under 40% never add to the score, BAYES_50 and up never
  // subtract from it.
  const hamSide = BAYES_BANDS.map((b) => b.from < 0.4);
  const valid = (): boolean =>
    scores.every(
      (v, i) =>
        v >= BAND_SCORE_MIN &&
        v <= BAND_SCORE_MAX &&
        (hamSide[i] === true ? v <= 0 : v >= 0) &&
        (i === 0 || v >= (scores[i - 1] ?? v)),
    );
  const descend = (): number => {
    let best = evaluate();
    for (let pass = 0; pass < 20; pass++) {
      let changed = false;
      for (let i = 0; i < scores.length; i++) {
        for (const mode of ['one', 'up', 'down'] as const) {
          for (let step = -30; step <= 30; step++) {
            if (step === 0) continue;
            const before = [...scores];
            for (let j = 0; j < scores.length; j++) {
              if (j === i || (mode === 'up' && j > i) || (mode === 'down' && j < i)) {
                scores[j] = Math.round(((scores[j] ?? 0) + step / 10) * 10) / 10;
              }
            }
            const value = valid() ? evaluate() : -Infinity;
            if (value > best + 1e-9) {
              best = value;
              changed = true;
            } else {
              scores.splice(0, scores.length, ...before);
            }
          }
        }
      }
      if (!changed) break;
    }
    return best;
  };
  const starts: number[][] = [
    BAYES_BANDS.map((b) => b.defaultScore),
    [-1.9, -0.5, -0.001, -0.001, 0.8, 1.5, 2.0, 3.0, 3.5, 3.7],
  ];
  // A fixed-seed generator: the same records always give the same scores.
  let seed = 7;
  const random = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  for (let k = 0; k < 6; k++) {
    const start = [-2.9 * random(), -random(), -0.001, -0.001, 1.5 * random()];
    while (start.length < BAYES_BANDS.length) start.push((start.at(-1) ?? 0) + random() * 1.2);
    starts.push(start.map((v) => Math.round(v * 10) / 10));
  }
  let best = -Infinity;
  let bestScores = [...scores];
  for (const start of starts) {
    scores.splice(0, scores.length, ...start.slice(0, BAYES_BANDS.length));
    for (let i = 1; i < scores.length; i++)
      scores[i] = Math.max(scores[i] ?? 0, scores[i - 1] ?? 0);
    if (!valid()) continue;
    const value = descend();
    if (value > best) {
      best = value;
      bestScores = [...scores];
    }
  }
  return new Map(BAYES_BANDS.map((b, i) => [b.symbol, bestScores[i] ?? b.defaultScore]));
}

/** `judge` on every message, two at a time (the reference daemons run two workers), in order. */
async function twoAtATime<T>(
  messages: readonly SplitMessage[],
  judge: (m: SplitMessage) => Promise<T>,
): Promise<T[]> {
  const verdicts = new Array<T>(messages.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < messages.length; i = next++) {
      const m = messages[i];
      if (m === undefined) continue;
      verdicts[i] = await judge(m);
    }
  };
  await Promise.all([worker(), worker()]);
  return verdicts;
}

/** Scans `messages` through spamd with two spamc clients at a time. */
function spamdVerdicts(
  sa: SpamAssassinReference,
  messages: readonly SplitMessage[],
): Promise<{ kind: SplitKind; spam: boolean }[]> {
  return twoAtATime(messages, async (m) => ({ kind: m.kind, spam: (await sa.check(m.file)).spam }));
}

/**
 * SpamAssassin under the same protocol: TEST with an empty Bayes database (SpamAssassin does
 * not use Bayes before 200 spam and 200 ham), then after `sa-learn` on TRAIN. Its clock cannot
 * be pinned: its date rules see 2002 mail as old.
 */
async function spamAssassinRows(
  train: readonly Sample[],
  test: readonly Sample[],
): Promise<AccuracyFigures[]> {
  const sa = await SpamAssassinReference.create();
  try {
    const testMetas = test.map((s) => s.meta);
    await sa.start();
    const untrained = await spamdVerdicts(sa, testMetas);
    await sa.stop();
    await sa.learn(train.map((s) => s.meta));
    await sa.start();
    const trained = await spamdVerdicts(sa, testMetas);
    return [
      accuracyFigures('SpamAssassin untrained', untrained),
      accuracyFigures('SpamAssassin trained (sa-learn)', trained),
    ];
  } finally {
    await sa.dispose();
  }
}

/** Scans `messages` through rspamd, two requests at a time, each at its receipt time. */
function rspamdVerdicts(
  rspamd: RspamdReference,
  messages: readonly SplitMessage[],
): Promise<{ kind: SplitKind; spam: boolean; score: number }[]> {
  return twoAtATime(messages, async (m) => {
    const verdict = await rspamd.check(m.file, m.receivedAt ?? CORPUS_ERA_END);
    return { kind: m.kind, spam: verdict.spam, score: verdict.score };
  });
}

/**
 * rspamd under the same protocol: TEST with an empty Bayes (rspamd does not classify before
 * 200 learns of each class), then after learning every TRAIN message. Spam = an action of
 * `add header` or above (score >= 6 with Debian's actions); `greylist` (4) is not a verdict.
 * A third row judges the trained scores at Parapet's and SpamAssassin's threshold (5), since
 * rspamd's own spam boundary is higher.
 */
async function rspamdRows(
  train: readonly Sample[],
  test: readonly Sample[],
): Promise<AccuracyFigures[]> {
  const rspamd = await RspamdReference.create();
  try {
    const testMetas = test.map((s) => s.meta);
    await rspamd.start();
    const untrained = await rspamdVerdicts(rspamd, testMetas);
    const learned = await rspamd.learn(train.map((s) => s.meta));
    console.log(
      `rspamd learned ${String(learned.learned)} TRAIN messages, refused ${String(learned.refused)}` +
        (learned.firstRefusal === null ? '' : ` (first: ${learned.firstRefusal.slice(0, 160)})`),
    );
    const trained = await rspamdVerdicts(rspamd, testMetas);
    return [
      accuracyFigures('rspamd untrained', untrained),
      accuracyFigures('rspamd trained (Bayes, redis)', trained),
      accuracyFigures(
        `rspamd trained, score >= ${String(DEFAULT_SPAM_THRESHOLD)}`,
        trained.map((v) => ({ kind: v.kind, spam: v.score >= DEFAULT_SPAM_THRESHOLD })),
      ),
    ];
  } finally {
    await rspamd.dispose();
  }
}

/** `--train-only`: cross-validation (and `--tune`) on TRAIN without loading TEST at all. */
async function trainOnly(tune: boolean): Promise<void> {
  const trainSet = await loadSamples('train');
  const clock = new PinnedClock();
  const cv = await crossValidate(trainSet, clock);
  printBandHistogram('5-fold cross-validation on TRAIN: held-out messages per Bayes band', cv);
  const rows = [accuracyFigures('CV on TRAIN, rules + Bayes', verdictsOf(cv, true))];
  if (tune) {
    const tuned = tuneBandScores(cv, 0.001, 0.02);
    console.log('\nband scores tuned on TRAIN (cross-validated):');
    console.log(BAYES_BANDS.map((b) => `${b.symbol}=${String(tuned.get(b.symbol))}`).join(' '));
    rows.push(accuracyFigures('CV on TRAIN, tuned scores', verdictsOf(cv, true, tuned)));
  }
  printFigures(rows);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cv: { type: 'boolean', default: false },
      tune: { type: 'boolean', default: false },
      'skip-reference': { type: 'boolean', default: false },
      'train-only': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const started = performance.now();
  if (values['train-only']) {
    await trainOnly(values.tune);
    console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return;
  }
  const [trainSet, testSet] = await Promise.all([loadSamples('train'), loadSamples('test')]);
  const trainCounts = countByKind(trainSet.map((s) => s.meta));
  const testCounts = countByKind(testSet.map((s) => s.meta));
  console.log(
    `corpus protocol: TRAIN ${String(trainCounts.spam)} spam, ${String(trainCounts['easy-ham'])} easy ham, ` +
      `${String(trainCounts['hard-ham'])} hard ham; TEST ${String(testCounts.spam)} spam, ` +
      `${String(testCounts['easy-ham'])} easy ham, ${String(testCounts['hard-ham'])} hard ham; ` +
      `threshold ${String(DEFAULT_SPAM_THRESHOLD)}; now = each message's receipt time`,
  );
  const clock = new PinnedClock();
  const rules = createRuleScanner({ now: clock.now });
  const store = await train(trainSet, clock);
  const bayes = createBayesScanner(store, { now: clock.now, touchOnScan: false });
  const records = await scanAll(testSet, rules, bayes, clock);
  const trained = verdictsOf(records, true);
  const rows = [
    accuracyFigures('Parapet untrained (rules)', verdictsOf(records, false)),
    accuracyFigures('Parapet trained (rules + Bayes)', trained),
  ];
  console.log('');
  printFigures(rows);
  console.log(
    `\ntargets: trained F1 > 0.945, FPR easy <= 0.14%, FPR hard <= 2.4% ` +
      `(SpamAssassin 4.0.1 trained: recall 89.9%, FPR easy 0.14%, FPR hard 2.4%, F1 0.945)`,
  );
  printBandHistogram('TEST messages per Bayes band (trained on TRAIN)', records);
  if (values.list) {
    console.log('\nmisclassified TEST messages (trained):');
    for (const v of trained) {
      if (v.spam !== (v.kind === 'spam')) {
        console.log(
          `${v.kind === 'spam' ? 'FN' : 'FP'} ${v.sample.meta.name} score=${String(v.score)} ${v.symbols}`,
        );
      }
    }
  }
  if (values.cv || values.tune) {
    const cv = await crossValidate(trainSet, clock);
    printBandHistogram('5-fold cross-validation on TRAIN: held-out messages per Bayes band', cv);
    printFigures([accuracyFigures('CV on TRAIN, rules + Bayes', verdictsOf(cv, true))]);
    if (values.tune) {
      // Below the target rates (0.14%, 2.4%) on TRAIN: one hard ham is 0.8% of 125, so the
      // margin is one message short of the target.
      const tuned = tuneBandScores(cv, 0.001, 0.02);
      console.log('\nband scores tuned on TRAIN (cross-validated):');
      console.log(BAYES_BANDS.map((b) => `${b.symbol}=${String(tuned.get(b.symbol))}`).join(' '));
      printFigures([
        accuracyFigures('CV on TRAIN, tuned scores', verdictsOf(cv, true, tuned)),
        accuracyFigures('TEST, tuned scores', verdictsOf(records, true, tuned)),
      ]);
    }
  }
  const saReason = values['skip-reference']
    ? 'skipped (--skip-reference)'
    : await spamAssassinUnavailableReason();
  if (saReason === null) {
    console.log('\nSpamAssassin (spamd, local tests only, same split) side by side:');
    rows.push(...(await spamAssassinRows(trainSet, testSet)));
    printFigures(rows);
  } else {
    console.log(`\nSpamAssassin: ${saReason}`);
  }
  const rspamdReason = values['skip-reference']
    ? 'skipped (--skip-reference)'
    : await rspamdUnavailableReason();
  if (rspamdReason === null) {
    console.log('\nrspamd (network modules off, refusing DNS stub, same split) side by side:');
    rows.push(...(await rspamdRows(trainSet, testSet)));
    printFigures(rows);
  } else {
    console.log(`\nrspamd: ${rspamdReason}`);
  }
  if (values.json !== undefined) await writeFile(values.json, `${JSON.stringify(rows, null, 2)}\n`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

await main();
