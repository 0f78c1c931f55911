/**
 * Error catalog for ui/ (STYLE.md B5), with the HTTP status each code answers with. Kept in
 * sync with ui/ERRORS.md by errors.test.ts.
 */
export const UiErrorCode = {
  ERR_UI_UNAUTHENTICATED: 'no valid session or API token (401)',
  ERR_UI_FORBIDDEN: 'the account lacks the role, scope or group for this route or object (403)',
  ERR_UI_CSRF: 'a state change without the session’s CSRF token (403)',
  ERR_UI_RATE_LIMITED: 'too many sign-in attempts from this address or for this account (429)',
  ERR_UI_SIGN_IN_FAILED: 'wrong user name, password or TOTP code, or a disabled account (401)',
  ERR_UI_TOTP_REQUIRED: 'the role requires a TOTP second factor: enrol before anything else (403)',
  ERR_UI_BAD_REQUEST: 'the request body, query or parameters are invalid (400)',
  ERR_UI_NOT_FOUND: 'the object named in the request does not exist (404)',
  ERR_UI_CONFLICT: 'the change conflicts with the current state (409)',
  ERR_UI_ACCOUNT_INVALID: 'an account, user name, address or password is not acceptable (400)',
  ERR_UI_UNAVAILABLE: 'a service the route needs (database, pm2) is not reachable (503)',
  ERR_UI_TLS: 'the TLS key or certificate could not be made, read or replaced',
  ERR_UI_INTERNAL: 'an unexpected fault; details are in the service log, not in the reply (500)',
} as const;

export type UiErrorCodeName = keyof typeof UiErrorCode;

export const UI_ERROR_STATUS: Readonly<Record<UiErrorCodeName, number>> = {
  ERR_UI_UNAUTHENTICATED: 401,
  ERR_UI_FORBIDDEN: 403,
  ERR_UI_CSRF: 403,
  ERR_UI_RATE_LIMITED: 429,
  ERR_UI_SIGN_IN_FAILED: 401,
  ERR_UI_TOTP_REQUIRED: 403,
  ERR_UI_BAD_REQUEST: 400,
  ERR_UI_NOT_FOUND: 404,
  ERR_UI_CONFLICT: 409,
  ERR_UI_ACCOUNT_INVALID: 400,
  ERR_UI_UNAVAILABLE: 503,
  ERR_UI_TLS: 500,
  ERR_UI_INTERNAL: 500,
};

export function isUiErrorCode(code: string): code is UiErrorCodeName {
  return Object.hasOwn(UiErrorCode, code);
}
