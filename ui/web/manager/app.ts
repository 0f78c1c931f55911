/**
 * The Manager page: sign-in, then a navigation of tabs routed by the URL fragment
 * (#/quarantine?sender=…), so that every view has a link and the back button works.
 */
import type { SessionInfo } from '../shared/api.js';
import { api } from '../shared/api.js';
import { clear, h, notice } from '../shared/dom.js';
import { currentSession, renderSignIn, renderTotpEnrolment } from '../shared/signin.js';
import { TABS } from './tabs.js';

const root = document.getElementById('app') ?? document.body;
let leave: (() => void) | undefined;

function parseHash(): { id: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const [id = '', q = ''] = raw.split('?');
  return { id, params: new URLSearchParams(q) };
}

function shell(session: SessionInfo): HTMLElement {
  clear(root);
  const main = h('main', { id: 'main', tabindex: -1 });
  const nav = h(
    'nav',
    { 'aria-label': 'Manager' },
    h(
      'ul',
      {},
      TABS.map((t) => h('li', {}, h('a', { href: `#/${t.id}`, 'data-tab': t.id }, t.title))),
    ),
  );
  const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    api('DELETE', 'session')
      .catch(() => undefined)
      .finally(() => {
        location.hash = '';
        void start();
      });
  });
  root.append(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'Parapet Manager'),
      nav,
      h('span', { class: 'who' }, `${session.username} (${session.role}) `, signOut),
    ),
    main,
  );
  return main;
}

async function route(main: HTMLElement, session: SessionInfo): Promise<void> {
  leave?.();
  leave = undefined;
  const { id, params } = parseHash();
  const tab = TABS.find((t) => t.id === id) ?? TABS[0];
  for (const a of document.querySelectorAll('nav a')) {
    if (a.getAttribute('data-tab') === tab?.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  clear(main);
  if (tab === undefined) {
    main.append(notice('No tabs are available.'));
    return;
  }
  document.title = `${tab.title} · Parapet Manager`;
  try {
    leave = await tab.render(main, session, params);
  } catch (err) {
    main.append(notice(err instanceof Error ? err.message : String(err), 'error'));
  }
}

async function start(): Promise<void> {
  const session = await currentSession();
  if (session === null) {
    renderSignIn(root, 'Parapet Manager', () => void start());
    return;
  }
  if (session.mustEnrolTotp) {
    renderTotpEnrolment(root, () => void start());
    return;
  }
  const main = shell(session);
  window.onhashchange = () => void route(main, session);
  await route(main, session);
}

void start();
