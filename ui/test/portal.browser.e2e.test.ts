// The End User and Groups Web Interfaces in headless Chromium on a real embedded PostgreSQL:
// an end user signs in, sees only their own mail and approves a message; a group administrator
// sees only their group's mail, and a direct API call for another group's message answers 403.
// Screenshots: the end-user quarantine (desktop and phone width), senders lists, groups page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchBrowser, newPage, screenshot, signInThroughForm } from './browser.js';
import { MESSAGES, PASSWORD, startPortalFixture, type PortalFixture } from './portal-fixture.js';

let f: PortalFixture;
let browser: Browser;

before(async () => {
  f = await startPortalFixture();
  browser = await launchBrowser();
});
after(async () => {
  await browser.close();
  await f.close();
});

test('an end user sees only their own messages and approves one', async () => {
  const page = await newPage(browser);
  await signInThroughForm(page, f.web.rpcui.url, 'alice@a.example', PASSWORD);
  await page.getByRole('heading', { name: 'My quarantine' }).waitFor();
  const list = page.getByRole('list', { name: 'Quarantined messages' });
  await list.getByText(MESSAGES.aliceOnly.subject).waitFor();
  const text = await list.innerText();
  assert.ok(text.includes(MESSAGES.shared.subject));
  assert.ok(!text.includes(MESSAGES.bobOnly.subject), 'another user’s subject is absent');
  assert.ok(!text.includes(MESSAGES.carol.subject));
  await screenshot(page, 'portal-quarantine');

  await page.getByRole('button', { name: `Approve: ${MESSAGES.aliceOnly.subject}` }).click();
  await page
    .getByRole('status')
    .getByText(/Released/)
    .waitFor();
  assert.equal(await list.getByText(MESSAGES.aliceOnly.subject).count(), 0);
  const row = await f.db.query<{ status: string }>('SELECT status FROM quarantine WHERE id = $1', [
    MESSAGES.aliceOnly.id,
  ]);
  assert.equal(row[0]?.status, 'released');

  // Keyboard: the search form is reachable and works with Enter.
  await page.getByLabel('Subject contains').fill('meeting');
  await page.getByLabel('Subject contains').press('Enter');
  await list.getByText(MESSAGES.shared.subject).waitFor();
  await list.getByText(MESSAGES.aliceOther.subject).waitFor({ state: 'detached' });

  await page.setViewportSize({ width: 375, height: 800 });
  await page.getByLabel('Subject contains').fill('');
  await page.getByRole('button', { name: 'Search' }).click();
  await list.getByText(MESSAGES.aliceOther.subject).waitFor();
  await screenshot(page, 'portal-quarantine-phone');
  // A string expression: this file is compiled without the DOM library.
  const overflow = await page.evaluate(
    'document.documentElement.scrollWidth > window.innerWidth + 1',
  );
  assert.equal(overflow, false, 'no sideways scrolling at 375 px');

  await page.setViewportSize({ width: 1280, height: 860 });
  await page.getByRole('link', { name: 'Allowed & blocked senders' }).click();
  await page.getByLabel('Add to approved senders').fill('partner.example');
  await page.getByLabel('Add to approved senders').press('Enter');
  await page
    .getByRole('list', { name: 'Approved senders for alice@a.example' })
    .getByText('partner.example')
    .waitFor();
  await screenshot(page, 'portal-senders');
  await page.context().close();
});

test('a group administrator cannot see another group’s message', async () => {
  const page = await newPage(browser);
  await signInThroughForm(page, f.web.rpcui.url, 'gadmin-b', PASSWORD);
  await page.getByRole('link', { name: 'Groups' }).click();
  await page.getByRole('heading', { name: 'Held mail' }).waitFor();
  const list = page.getByRole('list', { name: 'Held mail of gb' });
  await list.getByText(MESSAGES.bobOnly.subject).waitFor();
  const text = await list.innerText();
  assert.ok(!text.includes(MESSAGES.carol.subject), 'the other group’s subject is absent');
  assert.ok(!text.includes(MESSAGES.aliceOther.subject));
  await page.getByRole('heading', { name: 'Last 7 days' }).waitFor();
  await screenshot(page, 'portal-groups');

  // The same session, straight at the API, for the other group's message and group.
  const statuses = await page.evaluate(async (id) => {
    const s = (await (await fetch('/api/v1/session')).json()) as { csrf: string };
    const headers = { 'x-csrf-token': s.csrf };
    const a = await fetch(`/api/v1/groups/ga/messages`);
    const b = await fetch(`/api/v1/groups/ga/messages/${id}/approve`, { method: 'POST', headers });
    const c = await fetch(`/api/v1/groups/gb/messages/${id}/approve`, { method: 'POST', headers });
    return [a.status, b.status, c.status, await c.text()];
  }, MESSAGES.carol.id);
  assert.deepEqual(statuses.slice(0, 3), [403, 403, 403]);
  assert.ok(!String(statuses[3]).includes(MESSAGES.carol.subject));
  await page.context().close();

  // The global administrator's groups page: every group, delegation, what users may do.
  const admin = await newPage(browser);
  await signInThroughForm(admin, `${f.web.rpcui.url}/#/groups`, 'root', PASSWORD);
  await admin.getByRole('heading', { name: 'What end users may do' }).waitFor();
  await admin.getByRole('table', { name: 'All groups' }).getByText('gadmin-a').waitFor();
  await screenshot(admin, 'portal-groups-admin');
  await admin.context().close();
});
