/**
 * The pages' only way to the server: JSON over fetch to /api/v1/, with the session's CSRF
 * token on every state change. An ApiError carries the server's code (ui/ERRORS.md).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface SessionInfo {
  readonly username: string;
  readonly role: string;
  readonly csrf: string;
  readonly addresses: readonly string[];
  readonly mustEnrolTotp: boolean;
  readonly totpEnabled: boolean;
}

let csrf = '';

export function setCsrf(token: string): void {
  csrf = token;
}

export async function api<T = unknown>(
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(`/api/v1/${path.replace(/^\//, '')}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text === '' ? null : JSON.parse(text);
  } catch {
    data = { message: text };
  }
  if (!res.ok) {
    const d = (data ?? {}) as Record<string, unknown>;
    throw new ApiError(
      res.status,
      typeof d['error'] === 'string' ? d['error'] : `HTTP ${res.status}`,
      typeof d['message'] === 'string' ? d['message'] : res.statusText,
      d,
    );
  }
  return data as T;
}

/** Query string from an object, skipping empty values. */
export function query(
  params: Record<string, string | number | boolean | undefined | null>,
): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}
