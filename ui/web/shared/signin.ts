/**
 * The sign-in form both surfaces share: user name and password, then a TOTP code when the
 * account has one; after sign-in, TOTP enrolment when the role requires it.
 */
import { api, ApiError, setCsrf, type SessionInfo } from './api.js';
import { clear, h, notice } from './dom.js';

export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const s = await api<SessionInfo>('GET', 'session');
    setCsrf(s.csrf);
    return s;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
    throw err;
  }
}

export function renderSignIn(
  root: HTMLElement,
  title: string,
  onSignedIn: (s: SessionInfo) => void,
): void {
  clear(root);
  const user = h('input', {
    id: 'username',
    name: 'username',
    autocomplete: 'username',
    required: true,
  });
  const pass = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const code = h('input', {
    id: 'totp',
    name: 'totp',
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
  });
  const codeRow = h(
    'p',
    { hidden: true },
    h('label', { for: 'totp' }, 'Code from your authenticator app'),
    code,
  );
  const status = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, title),
    h('p', {}, h('label', { for: 'username' }, 'User name'), user),
    h('p', {}, h('label', { for: 'password' }, 'Password'), pass),
    codeRow,
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clear(status);
    const body: Record<string, string> = { username: user.value, password: pass.value };
    if (!codeRow.hidden && code.value !== '') body['totp'] = code.value;
    api<SessionInfo>('POST', 'session', body)
      .then((s) => {
        setCsrf(s.csrf);
        onSignedIn(s);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.body['totpRequired'] === true) {
          codeRow.hidden = false;
          code.focus();
          status.append(notice('Enter the code from your authenticator app.'));
          return;
        }
        status.append(notice(err instanceof Error ? err.message : String(err), 'error'));
      });
  });
  root.append(form);
  user.focus();
}

/** Enrolment when the role requires TOTP: shows the secret and asks for a first code. */
export function renderTotpEnrolment(root: HTMLElement, onDone: (s: SessionInfo) => void): void {
  clear(root);
  const status = h('div', { 'aria-live': 'polite' });
  const secretBox = h('p', {});
  const code = h('input', {
    id: 'enrol-code',
    inputmode: 'numeric',
    pattern: '[0-9]{6}',
    required: true,
  });
  const form = h(
    'form',
    { class: 'signin' },
    h('h1', {}, 'Set up two-factor sign-in'),
    h('p', {}, 'Your role requires a code from an authenticator app. Add this key to the app:'),
    secretBox,
    h('p', {}, h('label', { for: 'enrol-code' }, 'First code'), code),
    h('button', { type: 'submit' }, 'Confirm'),
    status,
  );
  api<{ secret: string; uri: string }>('POST', 'session/totp')
    .then((r) => {
      secretBox.append(h('code', { class: 'secret' }, r.secret), h('br'), h('small', {}, r.uri));
    })
    .catch((err: unknown) => {
      status.append(notice(String(err), 'error'));
    });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    api<SessionInfo>('PUT', 'session/totp', { code: code.value })
      .then((s) => {
        setCsrf(s.csrf);
        onDone(s);
      })
      .catch((err: unknown) => {
        status.append(notice(err instanceof Error ? err.message : String(err), 'error'));
      });
  });
  root.append(form);
}
