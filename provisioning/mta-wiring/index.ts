/** Public API of provisioning/mta-wiring: Postfix wiring and its CLI command. */
export {
  MTA_MODES,
  MILTER_LIST_KEYS,
  POSTFIX_WIRING_DEFAULTS,
  addMilter,
  configurePostfix,
  contentFilterMainCf,
  contentFilterMasterCf,
  findPostconf,
  milterMainCf,
  parseHostPort,
  reinjectSyslogName,
  reloadPostfix,
  removeMilter,
  resolveWiringOptions,
  splitMilterList,
  undoPostfix,
  validateMilterAddress,
} from './postfix-wiring.js';
export type {
  MasterEntry,
  MtaMode,
  PostfixWiringOptions,
  ResolvedWiringOptions,
  WiringChange,
  WiringReport,
} from './postfix-wiring.js';
export { formatWiringChange, formatWiringReport, registerMtaCommands } from './mta-command.js';
