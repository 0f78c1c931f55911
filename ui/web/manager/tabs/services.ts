/**
 * The Local Services tab: the node's services under pm2 (status, pid, uptime, restarts;
 * start, stop, restart for administrators), node health (CPU, memory, disk, load), the
 * scheduled jobs (schedule, next and last run; enable, disable, run now) and the web
 * certificate (view; replace with an uploaded PEM key and certificate). Refreshes every 5 s.
 */
import { api, ApiError, type SessionInfo } from '../../shared/api.js';
import { clear, h, notice, table } from '../../shared/dom.js';
import type { Tab } from '../tab.js';
import { formatBytes, formatDuration } from './dashboard.js';

interface ServiceView {
  readonly name: string;
  readonly description: string;
  readonly status: string;
  readonly pid: number | null;
  readonly uptimeMs: number | null;
  readonly restarts: number;
  readonly cpuPercent: number;
  readonly memoryBytes: number;
}

interface Health {
  readonly hostname: string;
  readonly uptimeSeconds: number;
  readonly cpu: { readonly loadPercent: number; readonly cores: number };
  readonly loadAverage: readonly number[];
  readonly memory: {
    readonly totalBytes: number;
    readonly availableBytes: number;
    readonly usedPercent: number;
  };
  readonly disk: {
    readonly mount: string;
    readonly sizeBytes: number;
    readonly availableBytes: number;
    readonly usedPercent: number;
  } | null;
}

interface JobView {
  readonly name: string;
  readonly description: string;
  readonly schedule: string;
  readonly command: readonly string[];
  readonly enabled: boolean;
  readonly nextRun: string | null;
  readonly running: boolean;
  readonly lastRun: {
    readonly startedAt: string;
    readonly ok: boolean;
    readonly exitCode: number | null;
    readonly output: string;
    readonly trigger: string;
  } | null;
}

interface CertificateView {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltName: string | null;
  readonly validTo: string;
  readonly daysLeft: number;
  readonly selfSigned: boolean;
  readonly fingerprint256: string;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const when = (iso: string | null): string => (iso === null ? '–' : new Date(iso).toLocaleString());

function gauge(label: string, percent: number, detail: string, id: string): HTMLElement {
  const meter = h('meter', {
    id,
    min: 0,
    max: 100,
    low: 70,
    high: 90,
    optimum: 10,
    value: percent,
  });
  return h(
    'div',
    { class: 'svc-gauge' },
    h('label', { for: id }, `${label}: ${String(percent)}%`),
    meter,
    h('span', { class: 'muted' }, detail),
  );
}

/** Redraws `box` and puts the keyboard focus back on the control with the same label. */
function keepFocus(box: HTMLElement, draw: () => void): void {
  const active = document.activeElement;
  const label = active !== null && box.contains(active) ? active.getAttribute('aria-label') : null;
  draw();
  if (label === null) return;
  for (const el of box.querySelectorAll<HTMLElement>('[aria-label]')) {
    if (el.getAttribute('aria-label') === label) {
      el.focus();
      return;
    }
  }
}

export const servicesTab: Tab = {
  id: 'services',
  title: 'Local Services',
  render: async (root, session: SessionInfo) => {
    const isAdmin = session.role === 'admin';
    const status = h('div', { 'aria-live': 'polite' });
    const servicesBox = h('div', { class: 'table-wrap' });
    const healthBox = h('div', { class: 'svc-health' });
    const jobsBox = h('div', { class: 'table-wrap' });
    const tlsBox = h('div');
    root.append(
      h('h1', {}, 'Local Services'),
      status,
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'svc-services' },
        h('h2', { id: 'svc-services' }, 'Services'),
        servicesBox,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'svc-health' },
        h('h2', { id: 'svc-health' }, 'Node health'),
        healthBox,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'svc-jobs' },
        h('h2', { id: 'svc-jobs' }, 'Scheduled jobs'),
        jobsBox,
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'svc-tls' },
        h('h2', { id: 'svc-tls' }, 'Web certificate'),
        tlsBox,
      ),
    );
    const say = (text: string, kind: 'ok' | 'error' = 'ok'): void => {
      clear(status);
      status.append(notice(text, kind));
    };
    /** Runs an action with its button disabled, then refreshes. */
    const act = (button: HTMLButtonElement, what: () => Promise<string>): void => {
      button.disabled = true;
      what()
        .then((text) => {
          say(text);
        })
        .catch((err: unknown) => {
          say(message(err), 'error');
        })
        .finally(() => {
          button.disabled = false;
          void refresh();
        });
    };

    const serviceButton = (s: ServiceView, action: 'start' | 'stop' | 'restart'): HTMLElement => {
      const label = `${action[0]?.toUpperCase() ?? ''}${action.slice(1)}`;
      const b = h(
        'button',
        {
          type: 'button',
          class: action === 'stop' ? 'danger' : 'secondary',
          'aria-label': `${label} ${s.name}`,
          'data-action': action,
        },
        label,
      );
      b.addEventListener('click', () => {
        act(b, async () => {
          const after = await api<{ status: string; pid: number | null }>(
            'POST',
            `services/${encodeURIComponent(s.name)}/${action}`,
          );
          return `${s.name}: ${after.status}${after.pid === null ? '' : ` (pid ${String(after.pid)})`}`;
        });
      });
      return b;
    };

    const drawServices = (data: { running: boolean; services: readonly ServiceView[] }): void => {
      clear(servicesBox);
      if (!data.running) {
        servicesBox.append(
          h(
            'p',
            { class: 'muted' },
            'The node is not running under its supervisor (parapet start).',
          ),
        );
      }
      servicesBox.append(
        table(data.services, [
          ['Service', (s) => h('span', { title: s.description }, s.name)],
          [
            'Status',
            (s) =>
              h('span', { class: `status status-${s.status.replace(/[^a-z-]/g, '')}` }, s.status),
          ],
          ['PID', (s) => (s.pid === null ? '–' : h('span', { 'data-pid': s.name }, String(s.pid)))],
          ['Uptime', (s) => formatDuration(s.uptimeMs)],
          ['Restarts', (s) => s.restarts],
          ['CPU', (s) => `${String(s.cpuPercent)}%`],
          ['Memory', (s) => formatBytes(s.memoryBytes)],
          ...(isAdmin
            ? [
                [
                  'Actions',
                  (s: ServiceView) =>
                    h(
                      'span',
                      { class: 'svc-actions' },
                      s.status === 'online'
                        ? [serviceButton(s, 'restart'), serviceButton(s, 'stop')]
                        : serviceButton(s, 'start'),
                    ),
                ] as const,
              ]
            : []),
        ]),
      );
    };

    const drawHealth = (x: Health): void => {
      clear(healthBox);
      healthBox.append(
        gauge('CPU load', x.cpu.loadPercent, `${String(x.cpu.cores)} cores`, 'health-cpu'),
        gauge(
          'Memory used',
          x.memory.usedPercent,
          `${formatBytes(x.memory.availableBytes)} free of ${formatBytes(x.memory.totalBytes)}`,
          'health-mem',
        ),
        x.disk === null
          ? h('p', {}, 'Disk: unknown')
          : gauge(
              `Disk ${x.disk.mount}`,
              x.disk.usedPercent,
              `${formatBytes(x.disk.availableBytes)} free of ${formatBytes(x.disk.sizeBytes)}`,
              'health-disk',
            ),
        h(
          'p',
          {},
          `Load average ${x.loadAverage.join(' / ')} · ${x.hostname} up ${formatDuration(x.uptimeSeconds * 1000)}`,
        ),
      );
    };

    const drawJobs = (jobs: readonly JobView[]): void => {
      clear(jobsBox);
      jobsBox.append(
        table(jobs, [
          [
            'Job',
            (j) =>
              h(
                'span',
                {},
                h('strong', {}, j.name),
                h('br'),
                h('small', { class: 'muted' }, j.description),
              ),
          ],
          ['Schedule', (j) => h('code', {}, j.schedule)],
          ['Enabled', (j) => (j.enabled ? 'yes' : 'no')],
          ['Next run', (j) => when(j.nextRun)],
          [
            'Last run',
            (j) =>
              j.running
                ? 'running…'
                : j.lastRun === null
                  ? 'never'
                  : h(
                      'span',
                      { title: j.lastRun.output },
                      `${when(j.lastRun.startedAt)} · ${j.lastRun.ok ? 'ok' : `failed (${String(j.lastRun.exitCode)})`} · ${j.lastRun.trigger}`,
                    ),
          ],
          ...(isAdmin
            ? [
                [
                  'Actions',
                  (j: JobView) => {
                    const toggle = h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        'aria-label': `${j.enabled ? 'Disable' : 'Enable'} ${j.name}`,
                      },
                      j.enabled ? 'Disable' : 'Enable',
                    );
                    toggle.addEventListener('click', () => {
                      act(toggle, async () => {
                        await api('PATCH', `jobs/${encodeURIComponent(j.name)}`, {
                          enabled: !j.enabled,
                        });
                        return `${j.name}: ${j.enabled ? 'disabled' : 'enabled'}`;
                      });
                    });
                    const run = h(
                      'button',
                      {
                        type: 'button',
                        class: 'secondary',
                        'aria-label': `Run ${j.name} now`,
                        disabled: j.running,
                      },
                      'Run now',
                    );
                    run.addEventListener('click', () => {
                      act(run, async () => {
                        const r = await api<{
                          running: boolean;
                          run?: { ok: boolean; output: string };
                        }>('POST', `jobs/${encodeURIComponent(j.name)}/run`);
                        if (r.running || r.run === undefined)
                          return `${j.name}: started, still running`;
                        return `${j.name}: ${r.run.ok ? 'finished' : 'failed'}${r.run.output === '' ? '' : ` — ${r.run.output.slice(0, 300)}`}`;
                      });
                    });
                    return h('span', { class: 'svc-actions' }, toggle, run);
                  },
                ] as const,
              ]
            : []),
        ]),
      );
    };

    const drawTls = (cert: CertificateView | null, error: string | null): void => {
      clear(tlsBox);
      if (cert !== null) {
        tlsBox.append(
          h(
            'dl',
            { class: 'svc-cert' },
            h('dt', {}, 'Subject'),
            h('dd', {}, cert.subject.replace(/\n/g, ', ')),
            h('dt', {}, 'Issuer'),
            h('dd', {}, cert.selfSigned ? 'self-signed' : cert.issuer.replace(/\n/g, ', ')),
            h('dt', {}, 'Names'),
            h('dd', {}, cert.subjectAltName ?? '–'),
            h('dt', {}, 'Expires'),
            h('dd', {}, `${when(cert.validTo)} (${String(cert.daysLeft)} days)`),
            h('dt', {}, 'SHA-256'),
            h('dd', {}, h('code', { class: 'svc-fingerprint' }, cert.fingerprint256)),
          ),
        );
      } else if (error !== null) tlsBox.append(notice(error, 'error'));
      if (!isAdmin) return;
      const key = h('textarea', { id: 'tls-key', rows: 4, required: true, spellcheck: 'false' });
      const crt = h('textarea', { id: 'tls-cert', rows: 4, required: true, spellcheck: 'false' });
      const keyFile = h('input', { id: 'tls-key-file', type: 'file', accept: '.pem,.key' });
      const crtFile = h('input', { id: 'tls-cert-file', type: 'file', accept: '.pem,.crt,.cer' });
      const load = (input: HTMLInputElement, into: HTMLTextAreaElement): void => {
        input.addEventListener('change', () => {
          const f = input.files?.[0];
          if (f !== undefined) void f.text().then((t) => (into.value = t));
        });
      };
      load(keyFile, key);
      load(crtFile, crt);
      const submit = h('button', { type: 'submit' }, 'Replace certificate');
      const form = h(
        'form',
        { class: 'svc-tls-form', 'aria-label': 'Replace the web certificate' },
        h(
          'p',
          {},
          h('label', { for: 'tls-cert-file' }, 'Certificate (PEM, with its chain)'),
          crtFile,
        ),
        h('p', {}, h('label', { for: 'tls-cert' }, 'or paste the certificate'), crt),
        h('p', {}, h('label', { for: 'tls-key-file' }, 'Private key (PEM)'), keyFile),
        h('p', {}, h('label', { for: 'tls-key' }, 'or paste the key'), key),
        submit,
      );
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(submit, async () => {
          const r = await api<CertificateView & { appliedNow: boolean }>('PUT', 'settings/tls', {
            key: key.value,
            cert: crt.value,
          });
          key.value = '';
          return `Certificate replaced (${r.subject.replace(/\n/g, ', ')})${r.appliedNow ? '; in use now' : ''}. The End User interface follows within 30 seconds.`;
        });
      });
      tlsBox.append(form);
    };

    let tlsDrawn = false;
    const refresh = async (): Promise<void> => {
      const [services, health, jobs] = await Promise.allSettled([
        api<{ running: boolean; services: ServiceView[] }>('GET', 'services'),
        api<Health>('GET', 'health'),
        api<{ jobs: JobView[] }>('GET', 'jobs'),
      ]);
      if (services.status === 'fulfilled')
        keepFocus(servicesBox, () => {
          drawServices(services.value);
        });
      else {
        clear(servicesBox);
        servicesBox.append(notice(message(services.reason), 'error'));
      }
      if (health.status === 'fulfilled') drawHealth(health.value);
      if (jobs.status === 'fulfilled')
        keepFocus(jobsBox, () => {
          drawJobs(jobs.value.jobs);
        });
      if (!tlsDrawn) {
        tlsDrawn = true;
        try {
          drawTls(await api<CertificateView>('GET', 'settings/tls'), null);
        } catch (err) {
          drawTls(
            null,
            err instanceof ApiError && err.status === 404 ? 'No certificate yet.' : message(err),
          );
        }
      }
    };
    await refresh();
    const timer = window.setInterval(() => void refresh(), 5000);
    return () => {
      window.clearInterval(timer);
    };
  },
};
