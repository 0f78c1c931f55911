/**
 * The shape of a scan symbol's catalogue entry (STYLE.md B4): every symbol a scanner can report
 * is registered once with its group, default score and a one-line description for the UI and
 * the message log. Scanners export their catalogues as maps of these.
 */
export interface SymbolDefinition {
  /** UPPER_SNAKE name; "__"-prefixed names are sub-rules that only feed meta rules. */
  readonly symbol: string;
  /** What the symbol is about ("header", "body", "uri", "phish", "bec", "mime", …). */
  readonly group: string;
  /** Score when configuration gives none; negative scores mark ham evidence. */
  readonly defaultScore: number;
  /** One line, shown to administrators. */
  readonly description: string;
}

/** The public view of a catalogue entry (score and description). */
export interface SymbolInfo {
  readonly score: number;
  readonly description: string;
  readonly group: string;
}

/** A scanner's symbol table: name → entry without the name (the name is the key). */
export type SymbolTable = Readonly<Record<string, Omit<SymbolDefinition, 'symbol'>>>;

/** A symbol table as catalogue entries by name, in the table's order. */
export function symbolMap(table: SymbolTable): ReadonlyMap<string, SymbolDefinition> {
  return new Map(Object.entries(table).map(([symbol, entry]) => [symbol, { symbol, ...entry }]));
}
