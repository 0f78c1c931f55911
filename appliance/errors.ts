/** Error catalog for appliance/ (STYLE.md B5), kept in sync with appliance/ERRORS.md. */
export const ApplianceErrorCode = {
  ERR_CONFIG_INVALID: 'the node configuration file is not valid JSON or has an invalid value',
  ERR_SERVICE_UNKNOWN: 'no such service, or the service is not available in this version',
  ERR_SERVICE_LISTEN_FAILED: 'a service could not listen on its configured address',
  ERR_ANTIVIRUS_START_FAILED:
    'clamd could not be set up or started, or did not answer PING in time',
  ERR_ANTIVIRUS_EXITED: 'clamd exited while the antivirus service was running',
  ERR_SUPERVISOR: 'pm2 (the service supervisor) failed to start, list or control a service',
  ERR_NODE_NOT_RUNNING: 'the command needs a running node (parapet start)',
  ERR_SERVICE_USER: 'the dedicated service user could not be created or given the home directory',
  ERR_QUEUE_INVALID: 'an outbound message was refused by the queue (no recipients, bad data)',
  ERR_NOT_FOUND: 'the entry, message or object named on the command line does not exist',
  ERR_INPUT_UNREADABLE: 'a file or directory named on the command line could not be read',
  ERR_POLICY_INVALID: 'a Sieve policy script does not compile (errors as FILE:LINE:COLUMN)',
  ERR_LIST_INVALID: 'a policy list or map name, entry or stored file is not valid',
  ERR_DB_BINARIES_NOT_FOUND: 'no PostgreSQL server binaries (initdb, postgres) were found',
  ERR_DB_START_FAILED: 'the embedded PostgreSQL could not be initialised, started or stopped',
  ERR_DB_UNAVAILABLE: 'the database could not be reached (connection refused, lost or timed out)',
  ERR_DB_QUERY_FAILED: 'a database statement failed',
  ERR_DB_MIGRATION_FAILED: 'a schema migration failed or an applied migration file was changed',
  ERR_REPORT_INVALID: 'a report was asked for with a bad range, limit, dimension or id',
} as const;
