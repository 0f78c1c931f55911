/**
 * Error catalog for provisioning/ (STYLE.md B5). Every fault thrown while wiring a node is a
 * ProvisioningError carrying one of these codes and, where there is one, the wrapped cause.
 */
import { ParapetError } from '../filter/index.js';

/** Codes and their meaning. */
export const ProvisioningErrorCode = {
  ERR_MTA_POSTCONF_MISSING: 'postconf was not found (Postfix is not installed or not on PATH)',
  ERR_MTA_CONFIG_DIR: 'the Postfix configuration directory is missing main.cf or master.cf',
  ERR_MTA_INVALID_OPTION: 'an MTA wiring option is invalid (mode, address, service name, limit)',
  ERR_MTA_POSTCONF_FAILED: 'postconf exited with an error while reading or editing the config',
  ERR_MTA_RELOAD_FAILED: 'postfix reload failed after the wiring changed',
} as const;

/** One code of {@link ProvisioningErrorCode}. */
export type ProvisioningErrorCodeName = keyof typeof ProvisioningErrorCode;

/** A fault in provisioning/, with a catalog code. */
export class ProvisioningError extends ParapetError {
  declare readonly code: ProvisioningErrorCodeName;
  constructor(code: ProvisioningErrorCodeName, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ProvisioningError';
  }
}
