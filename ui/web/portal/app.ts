/**
 * The End User and Groups Web Interface page (28443): sign-in (or a signed digest link),
 * then the views the account's role allows, routed by the URL fragment.
 */
import { currentSession, renderSignIn, renderTotpEnrolment } from '../shared/signin.js';
import { clear, h, notice } from '../shared/dom.js';
import type { SessionInfo } from '../shared/api.js';
import { VIEWS } from './views.js';

const root = document.getElementById('app') ?? document.body;
let leave: (() => void) | undefined;

function show(session: SessionInfo): void {
  clear(root);
  const views = VIEWS.filter((v) => v.roles.includes(session.role));
  const main = h('main', { id: 'main', tabindex: -1 });
  root.append(
    h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'Parapet'),
      h(
        'nav',
        { 'aria-label': 'Views' },
        h(
          'ul',
          {},
          views.map((v) => h('li', {}, h('a', { href: `#/${v.id}`, 'data-view': v.id }, v.title))),
        ),
      ),
      h('span', { class: 'who' }, session.username),
    ),
    main,
  );
  const route = async (): Promise<void> => {
    leave?.();
    leave = undefined;
    const [id = '', q = ''] = location.hash.replace(/^#\/?/, '').split('?');
    const view = views.find((v) => v.id === id) ?? views[0];
    for (const a of document.querySelectorAll('nav a')) {
      if (a.getAttribute('data-view') === view?.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    clear(main);
    if (view === undefined) {
      main.append(notice('Nothing to show for your account.'));
      return;
    }
    try {
      leave = await view.render(main, session, new URLSearchParams(q));
    } catch (err) {
      main.append(notice(err instanceof Error ? err.message : String(err), 'error'));
    }
  };
  window.onhashchange = () => void route();
  void route();
}

async function start(): Promise<void> {
  const session = await currentSession();
  if (session === null) {
    renderSignIn(root, 'Sign in to see your quarantined mail', () => void start());
    return;
  }
  if (session.mustEnrolTotp) {
    renderTotpEnrolment(root, () => void start());
    return;
  }
  show(session);
}

void start();
