/**
 * Browser test of the Policy tab (issue 6 "a policy edit with an error shows it at the right
 * line"): an administrator signs in, opens Policy, breaks line 7 of the active policy, clicks
 * Check — the error names line 7, the gutter marks line 7 and the caret moves there — then
 * fixes it and saves with Ctrl+S, and a new version appears. Needs Debian chromium and the
 * compiled pages (`npx tsc -p ui/web`); skips without chromium.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { policy } from '../../filter/index.js';
import { chromiumPath, launchBrowser, newPage, screenshot, signInThroughForm } from './browser.js';
import { startWebNode, WebClient, type WebNode } from './web-node.js';

const PASSWORD = 'policy editor password 1';
let node: WebNode | undefined;
let browser: Browser | undefined;

before(async () => {
  if (chromiumPath() === null) return;
  node = await startWebNode();
  await node.addUser('admin', 'admin', PASSWORD);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await node?.close();
});

test(
  'policy: an error on line 7 is shown at line 7; the fix saves as a new version',
  { skip: chromiumPath() === null ? 'chromium is not installed' : false, timeout: 90_000 },
  async () => {
    assert.ok(node !== undefined && browser !== undefined);
    const page = await newPage(browser);
    await signInThroughForm(page, `${node.manager.url}/#/policy`, 'admin', PASSWORD);
    const editor = page.getByLabel('Policy script');
    await editor.waitFor();
    assert.equal(await editor.inputValue(), policy.DEFAULT_POLICY_TEXT);

    // Line 7 of the shipped policy is `if anyof (…`; misspell its command.
    const lines = policy.DEFAULT_POLICY_TEXT.split('\n');
    assert.match(lines[6] ?? '', /^if anyof/);
    const broken = [...lines.slice(0, 6), (lines[6] ?? '').replace('if', 'iff'), ...lines.slice(7)];
    await editor.fill(broken.join('\n'));
    await page.getByRole('button', { name: 'Check', exact: true }).click();

    const problem = page.locator('#policy-problems li').first();
    await problem.waitFor();
    const text = await problem.innerText();
    assert.match(text, /Line 7, column 1/);
    assert.match(text, /iff/);
    assert.equal(await page.locator('#policy-problems [role=alert]').count(), 1);
    // The gutter marks line 7, and only line 7.
    assert.deepEqual(await page.locator('.policy-gutter .error').allInnerTexts(), ['7']);
    // The caret went to line 7, column 1.
    const caret = await editor.evaluate((el) => {
      // Runs in the page; ui/ has no DOM types, so the textarea is described here.
      const t = el as unknown as { value: string; selectionStart: number };
      const head: string[] = t.value.slice(0, t.selectionStart).split('\n');
      return { line: head.length, column: (head[head.length - 1] ?? '').length + 1 };
    });
    assert.deepEqual(caret, { line: 7, column: 1 });
    await screenshot(page, 'manager-policy-error');

    // Fix it, then save from the keyboard.
    await editor.fill(
      lines.join('\n').replace('"block-ips") {', '"block-ips", listed :ip "extra-ips") {'),
    );
    await page.getByLabel('Comment').fill('block extra-ips too');
    await editor.focus();
    await page.keyboard.press('Control+s');
    await page.getByText(/Saved as version 2/).waitFor();
    assert.equal(await page.locator('.policy-gutter .error').count(), 0);
    const versions = page.locator('table', { hasText: 'Saved versions' });
    await versions.getByText('2 (active)').waitFor();
    assert.match(await versions.innerText(), /block extra-ips too/);
    // Version 1 is the shipped default recorded by the first save; the diff shows the fix.
    await page.getByRole('button', { name: 'Show diff' }).click();
    await page.locator('.policy-diff .diff-added', { hasText: 'extra-ips' }).waitFor();
    assert.equal(await page.locator('.policy-diff .diff-removed').count(), 1);

    // The server agrees: version 2 is active and holds the fix.
    const client = new WebClient(node.manager.url);
    await client.signIn('admin', PASSWORD);
    const active = (await client.request('GET', '/api/v1/policy')).json();
    assert.equal(active.version, 2);
    assert.match(String(active.script), /listed :ip "extra-ips"/);

    // A test message with a virus found: the saved policy quarantines it.
    await page
      .getByLabel('Message (raw RFC 5322 text)')
      .fill('From: a@example.com\nTo: b@example.org\nSubject: hello\n\nhi\n');
    await page.getByLabel('Virus scan').selectOption('infected');
    await page.getByRole('button', { name: 'Run test' }).click();
    await page.getByText('quarantine (virus found)').waitFor();

    // Lists: add an entry to the block list the default policy reads, then remove it.
    await page.getByRole('button', { name: 'Open list block-senders' }).click();
    await page.getByLabel('Add entries (space or comma separated)').fill('spam@bad.example');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Remove spam@bad.example' }).waitFor();
    const stored = (await client.request('GET', '/api/v1/lists/block-senders')).json();
    assert.deepEqual(stored.entries, ['spam@bad.example']);
    await page.getByRole('button', { name: 'Remove spam@bad.example' }).click();
    await page.getByText('No entries.').waitFor();

    // On a phone the page fits the width (tables scroll inside their own box).
    await page.setViewportSize({ width: 375, height: 800 });
    const overflow = Number(
      await page.evaluate(
        'document.documentElement.scrollWidth - document.documentElement.clientWidth',
      ),
    );
    assert.ok(overflow <= 1, `the page is ${String(overflow)} px wider than a phone`);
    await screenshot(page, 'manager-policy-phone');
    await page.close();
  },
);
