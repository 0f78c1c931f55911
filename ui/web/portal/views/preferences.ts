/** Digest preferences: whether the user gets the quarantine digest, and how often. */
import { api } from '../../shared/api.js';
import { clear, h, notice } from '../../shared/dom.js';
import type { View } from '../views.js';
import { errorText } from './messages.js';

interface DigestPreference {
  readonly enabled: boolean;
  readonly frequency: 'daily' | 'weekly';
}

export const preferencesView: View = {
  id: 'preferences',
  title: 'Digest preferences',
  roles: ['user'],
  render: async (root) => {
    document.title = 'Digest preferences · Parapet';
    const pref = await api<DigestPreference>('GET', 'portal/digest');
    const enabled = h('input', { id: 'digest-enabled', type: 'checkbox', name: 'enabled' });
    enabled.checked = pref.enabled;
    const frequency = h(
      'select',
      { id: 'digest-frequency', name: 'frequency' },
      h('option', { value: 'daily' }, 'Daily'),
      h('option', { value: 'weekly' }, 'Weekly'),
    );
    frequency.value = pref.frequency;
    const sync = (): void => {
      frequency.disabled = !enabled.checked;
    };
    enabled.addEventListener('change', sync);
    sync();
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const form = h(
      'form',
      { class: 'panel prefs', 'aria-labelledby': 'prefs-title' },
      h('h1', { id: 'prefs-title' }, 'Digest preferences'),
      h(
        'p',
        { class: 'muted' },
        'The digest lists the mail held for you, with a link that signs you in here.',
      ),
      h(
        'p',
        { class: 'check' },
        enabled,
        h('label', { for: 'digest-enabled' }, 'Send me a quarantine digest'),
      ),
      h('p', {}, h('label', { for: 'digest-frequency' }, 'How often'), frequency),
      h('button', { type: 'submit' }, 'Save'),
      status,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clear(status);
      api<DigestPreference>('PUT', 'portal/digest', {
        enabled: enabled.checked,
        frequency: frequency.value === 'weekly' ? 'weekly' : 'daily',
      })
        .then((p) => {
          status.append(
            notice(p.enabled ? `Saved: a ${p.frequency} digest.` : 'Saved: no digest.'),
          );
        })
        .catch((err: unknown) => {
          status.append(notice(errorText(err), 'error'));
        });
    });
    root.append(form);
    return undefined;
  },
};
