/**
 * RFC 5233 subaddress: the :user and :detail address parts. The separator is configurable
 * (SieveEnvironment.subaddressSeparator, default "+").
 */
import type { SieveExtension } from '../extension-api.js';

/** The subaddress extension. */
export const subaddressExtension: SieveExtension = {
  capabilities: ['subaddress'],
  addressParts: ['user', 'detail'],
};
