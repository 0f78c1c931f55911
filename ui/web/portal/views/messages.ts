/**
 * The message list the My quarantine and Groups views share: one card per message (reads well
 * at 375 px, unlike a wide table), each action a real button whose accessible name carries the
 * message's subject, a "Show more" button for the next keyset page, and a polite live region
 * that announces what happened.
 */
import { api, ApiError } from '../../shared/api.js';
import { clear, h, notice } from '../../shared/dom.js';

export interface MessageView {
  readonly id: string;
  readonly time: string;
  readonly from: string | null;
  readonly to: readonly string[];
  readonly subject: string | null;
  readonly reason: string;
  readonly score: number | null;
  readonly status: string;
}

export interface MessagePage {
  readonly messages: readonly MessageView[];
  readonly next: string | null;
}

export interface MessageAction {
  readonly label: string;
  readonly kind?: 'secondary' | 'danger';
  /** Runs the action; the returned text is announced. The card is removed when `removes`. */
  run(m: MessageView): Promise<string>;
  readonly removes?: boolean;
}

export const subjectOf = (m: MessageView): string =>
  m.subject === null || m.subject === '' ? '(no subject)' : m.subject;

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function when(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/**
 * Draws a paged list into `root`. `load(cursor)` fetches a page; `actions` become buttons;
 * `detail` (optional) fetches what "View" shows.
 */
export function messageList(
  root: HTMLElement,
  options: {
    readonly label: string;
    readonly load: (cursor: string | null) => Promise<MessagePage>;
    readonly actions: readonly MessageAction[];
    readonly detail?: (m: MessageView) => Promise<{ headers: string; text: string }>;
    readonly showRecipients?: boolean;
  },
): { reload: () => Promise<void> } {
  const status = h('div', { class: 'portal-status', role: 'status', 'aria-live': 'polite' });
  const list = h('ul', { class: 'msg-list', 'aria-label': options.label });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show more');
  let next: string | null = null;

  const say = (text: string, kind: 'ok' | 'error' = 'ok'): void => {
    clear(status);
    status.append(notice(text, kind));
  };

  const card = (m: MessageView): HTMLLIElement => {
    const subject = subjectOf(m);
    const item = h('li', { class: 'msg', 'data-id': m.id });
    const detailBox = h('div', { class: 'msg-detail', hidden: true });
    // Released or deleted mail is history: it can be viewed, not acted on.
    const buttons = (m.status === 'held' ? options.actions : []).map((a) => {
      const b = h(
        'button',
        { type: 'button', class: a.kind ?? null, 'aria-label': `${a.label}: ${subject}` },
        a.label,
      );
      b.addEventListener('click', () => {
        b.disabled = true;
        a.run(m)
          .then((text) => {
            say(text);
            if (a.removes === true) {
              const focusNext = item.nextElementSibling ?? item.previousElementSibling;
              item.remove();
              focusNext?.querySelector('button')?.focus();
              if (list.children.length === 0)
                list.append(h('li', { class: 'muted' }, 'No messages.'));
            } else {
              b.disabled = false;
            }
          })
          .catch((err: unknown) => {
            b.disabled = false;
            say(errorText(err), 'error');
          });
      });
      return b;
    });
    if (options.detail !== undefined) {
      const detail = options.detail;
      const view = h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          'aria-expanded': 'false',
          'aria-label': `View: ${subject}`,
        },
        'View',
      );
      view.addEventListener('click', () => {
        if (!detailBox.hidden) {
          detailBox.hidden = true;
          view.setAttribute('aria-expanded', 'false');
          return;
        }
        detail(m)
          .then((d) => {
            clear(detailBox);
            detailBox.append(
              h('pre', { class: 'msg-headers', tabindex: 0, 'aria-label': 'Headers' }, d.headers),
              h('pre', { class: 'msg-text', tabindex: 0, 'aria-label': 'Text' }, d.text),
            );
            detailBox.hidden = false;
            view.setAttribute('aria-expanded', 'true');
          })
          .catch((err: unknown) => {
            say(errorText(err), 'error');
          });
      });
      buttons.unshift(view);
    }
    item.append(
      h('h3', { class: 'msg-subject' }, subject),
      h(
        'p',
        { class: 'msg-meta' },
        h('span', {}, `From ${m.from ?? '(none)'}`),
        options.showRecipients === true ? h('span', {}, `To ${m.to.join(', ')}`) : null,
        h('span', {}, when(m.time)),
        h('span', {}, `${m.reason}${m.score === null ? '' : ` (score ${m.score.toFixed(1)})`}`),
        m.status === 'held' ? null : h('span', { class: 'msg-state' }, m.status),
      ),
      h(
        'div',
        { class: 'msg-actions', role: 'group', 'aria-label': `Actions for ${subject}` },
        buttons,
      ),
      detailBox,
    );
    return item;
  };

  const fetchPage = async (reset: boolean): Promise<void> => {
    if (reset) next = null;
    const page = await options.load(reset ? null : next);
    if (reset) clear(list);
    for (const m of page.messages) list.append(card(m));
    if (list.children.length === 0) list.append(h('li', { class: 'muted' }, 'No messages.'));
    next = page.next;
    more.hidden = next === null;
  };
  more.addEventListener('click', () => {
    fetchPage(false).catch((err: unknown) => {
      say(errorText(err), 'error');
    });
  });
  root.append(status, list, more);
  return { reload: () => fetchPage(true) };
}

/** GET helper for a list endpoint with a cursor. */
export function pageLoader(path: string, params: () => Record<string, string>) {
  return (cursor: string | null): Promise<MessagePage> => {
    const q = new URLSearchParams(params());
    if (cursor !== null) q.set('cursor', cursor);
    const s = q.toString();
    return api<MessagePage>('GET', s === '' ? path : `${path}?${s}`);
  };
}
