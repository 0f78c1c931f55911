/** Error catalog for appliance/ (STYLE.md B5), kept in sync with appliance/ERRORS.md. */
export const ApplianceErrorCode = {
  ERR_CONFIG_INVALID: 'the node configuration file is not valid JSON or has an invalid value',
  ERR_SERVICE_UNKNOWN: 'no such service, or the service is not available in this version',
  ERR_SERVICE_LISTEN_FAILED: 'a service could not listen on its configured address',
} as const;
