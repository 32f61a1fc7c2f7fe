// The web panel in real headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core) against a real `postino serve`: an administrator runs
// the virtual list, a domain admin stays in their domain, a user sets an
// out-of-office reply that then answers real SMTP mail. Each page is saved
// as a screenshot under test-results/screenshots/ for a reviewer.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { scratchDir } from '../support/tmp.js';
import { postino } from '../support/cli.js';
import { startServe, type Served } from '../support/serve.js';
import { startDnsFixture, type DnsFixture } from '../support/dns-fixture.js';
import { cliPath, repoRoot } from '../support/paths.js';
import { SERVICES } from '../../src/config.js';

const ADMIN_PASSWORD = 'copper-kettle-lantern-19';
const USER_PASSWORD = 'tangerine-otter-42';
const screenshots = path.join(repoRoot, 'test-results', 'screenshots');
/** Generous: a loaded 2-core machine builds and tests other branches at the same time. */
const WAIT = 60_000;

function swaks(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('swaks', ['--timeout', '30', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
  });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
}

describe('web panel in headless Chromium', { timeout: 600_000 }, () => {
  const s = scratchDir();
  let served: Served;
  let dns: DnsFixture;
  let browser: Browser;
  let base = '';
  let smtpPort = 0;
  const contexts: BrowserContext[] = [];
  /** Script errors and CSP violations in any page; checked after each test. */
  const pageErrors: string[] = [];
  const cli = (args: string[], stdin?: string) => {
    const r = postino(s.dir, args, stdin);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  /** A fresh browser profile (own cookies) with English or Italian as the browser's language. */
  async function newPage(locale = 'en-US'): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale, viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('dialog', (d) => void d.accept());
    page.on('pageerror', (err) => pageErrors.push(`${err}`));
    // The panel must live within its Content-Security-Policy: any violation is a bug.
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
    return page;
  }

  async function login(page: Page, username: string, password: string, heading: string): Promise<void> {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { level: 1, name: 'Log in' }).waitFor();
    await page.getByLabel('User name or email address').fill(username);
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await arrived(page, heading);
  }

  /** Waits for the page's heading, or fails at once with the panel's error message. */
  async function arrived(page: Page, heading: string): Promise<void> {
    const wanted = page.getByRole('heading', { level: 1, name: heading });
    const alert = page.locator('#alert').filter({ hasText: /\S/ });
    await wanted.or(alert).first().waitFor();
    if (!(await wanted.isVisible())) assert.fail(`expected the page "${heading}", got the error: ${await alert.textContent()}`);
  }

  const status = (page: Page) => page.locator('#status');
  const h1 = (page: Page, name: string) => page.getByRole('heading', { level: 1, name }).waitFor();

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    dns = await startDnsFixture({ 'remote.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
    writeFileSync(
      path.join(s.dir, 'postino.json'),
      JSON.stringify({
        hostname: 'mx.example.test',
        dns: { servers: dns.servers },
        // The vacation reply waits in the outbound queue: nothing listens at the smarthost's port.
        relay: { smarthost: { host: '127.0.0.1', port: 1, tls: 'opportunistic' } },
      }),
    );
    cli(['admin', 'add', 'root', '--password-stdin'], `${ADMIN_PASSWORD}\n`);
    const env = Object.fromEntries(SERVICES.map((x) => [`POSTINO_${x.toUpperCase()}_PORT`, '0']));
    served = startServe(process.execPath, [cliPath, 'serve', '--data', s.dir], { ...env, POSTINO_LISTEN: '127.0.0.1' });
    const admin = await served.waitFor((e) => e.event === 'listening' && e.service === 'admin', 120_000);
    smtpPort = Number((await served.waitFor((e) => e.event === 'listening' && e.service === 'smtp', 120_000)).port);
    await served.waitFor((e) => e.event === 'ready', 120_000);
    base = `https://127.0.0.1:${admin.port}`;
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'], headless: true, timeout: 120_000 });
  });

  afterEach(() => {
    assert.deepEqual(pageErrors.splice(0), [], 'no script error and no CSP violation in the pages');
  });

  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    const code = await served?.stop();
    await dns?.close();
    s.cleanup();
    assert.equal(code, 0);
  });

  test('keyboard only: the login form is reachable and usable without a mouse, with a visible focus', async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    await h1(page, 'Log in');
    await shot(page, '01-login');
    // The page moves the focus to its heading; the next Tab is the first field.
    await page.keyboard.press('Tab');
    // Page-side code as strings: this project compiles without the DOM's types.
    const focused = () =>
      page.evaluate<{ name: string; outline: string }>(
        "({ name: document.activeElement?.getAttribute('name') ?? '', outline: getComputedStyle(document.activeElement).outlineStyle })",
      );
    const f = await focused();
    assert.equal(f.name, 'username');
    assert.notEqual(f.outline, 'none', 'the focused field shows a focus ring');
    await page.keyboard.type('root');
    await page.keyboard.press('Tab');
    assert.equal((await focused()).name, 'password');
    await page.keyboard.type(ADMIN_PASSWORD);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement?.textContent'), 'Log in');
    await page.keyboard.press('Enter');
    await arrived(page, 'Domains');
    await status(page).filter({ hasText: 'Logged in as root.' }).waitFor();
    // The skip link is the first stop from the top of the page, shows when focused, and moves the focus to the page.
    assert.equal(await page.evaluate<string>("document.querySelector('a[href], button:not([hidden]), input, select, textarea').id"), 'skip-link');
    await page.evaluate("document.getElementById('skip-link').focus()");
    const box = await page.locator('#skip-link').boundingBox();
    assert.ok(box && box.x >= 0, 'the focused skip link is on screen');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate<string>('document.activeElement?.id'), 'page-title');
    await h1(page, 'Domains');
  });

  test('Italian: the browser language picks the dictionary, and the switch changes it', async () => {
    const page = await newPage('it-IT');
    await page.goto(`${base}/`);
    await page.getByRole('heading', { level: 1, name: 'Accedi' }).waitFor();
    assert.equal(await page.evaluate<string>('document.documentElement.lang'), 'it');
    await page.getByLabel('Nome utente o indirizzo email').waitFor();
    await shot(page, '02-login-it');
    await page.getByLabel('Lingua').selectOption('en');
    await h1(page, 'Log in');
    assert.equal(await page.evaluate<string>('document.documentElement.lang'), 'en');
  });

  test('an admin adds a domain, a mailbox, disables it, changes its quota, adds an alias, and sees it all in the audit log', async () => {
    const page = await newPage();
    await login(page, 'root', ADMIN_PASSWORD, 'Domains');

    const addDomain = page.locator('#add-domain');
    await addDomain.getByLabel('Domain').fill('acme.test');
    await addDomain.getByLabel('Postmaster address').fill('postmaster@acme.test');
    await addDomain.getByLabel('Password of a new postmaster mailbox (empty when it exists)').fill(USER_PASSWORD);
    await addDomain.getByRole('button', { name: 'Add domain' }).click();
    await status(page).filter({ hasText: 'Domain acme.test added.' }).waitFor();
    await page.getByRole('link', { name: 'acme.test', exact: true }).waitFor();
    // A second domain, for the domain admin not to see.
    await addDomain.getByLabel('Domain').fill('other.test');
    // Its postmaster is an existing mailbox of another domain: no password then.
    await addDomain.getByLabel('Postmaster address').fill('postmaster@acme.test');
    await addDomain.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('link', { name: 'other.test', exact: true }).waitFor();
    await shot(page, '03-domains');

    await page.getByRole('link', { name: 'acme.test', exact: true }).click();
    await h1(page, 'Mailboxes of acme.test');
    const addAccount = page.locator('#add-account');
    await addAccount.getByLabel('Address').fill('alice@acme.test');
    await addAccount.getByLabel('Password').fill(USER_PASSWORD);
    await addAccount.getByLabel('Quota in MiB (empty for no limit)').fill('10');
    await addAccount.getByRole('button', { name: 'Add mailbox' }).click();
    await status(page).filter({ hasText: 'Mailbox alice@acme.test added.' }).waitFor();
    const aliceRow = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'Edit alice@acme.test' }) });
    await aliceRow.locator('meter').waitFor();
    await aliceRow.filter({ hasText: 'of 10 MiB' }).waitFor();

    // A refused input is shown next to its field.
    await addAccount.getByLabel('Address').fill('not-an-address@other.test');
    await addAccount.getByLabel('Password').fill('x');
    await addAccount.getByRole('button', { name: 'Add mailbox' }).click();
    await page.locator('#alert').filter({ hasText: /\S/ }).waitFor();
    await shot(page, '04-virtual-list-error');

    await aliceRow.getByRole('link').click();
    await h1(page, 'Mailbox alice@acme.test');
    await page.locator('#account-password').getByLabel('New password').fill('walnut-harbor-bicycle-7');
    await page.getByRole('button', { name: 'Set password' }).click();
    await status(page).filter({ hasText: 'Password changed.' }).waitFor();
    await page.getByRole('button', { name: 'Disable mailbox' }).click();
    await status(page).filter({ hasText: 'Mailbox alice@acme.test disabled.' }).waitFor();
    await page.getByRole('button', { name: 'Enable mailbox' }).waitFor();
    const quota = page.locator('#account-quota').getByLabel('Quota in MiB (empty for no limit)');
    await quota.fill('20');
    await page.getByRole('button', { name: 'Set quota' }).click();
    await status(page).filter({ hasText: 'Quota changed.' }).waitFor();
    await page.getByText('quota 20 MiB').waitFor();
    await shot(page, '05-mailbox');

    await page.getByRole('link', { name: 'Back to the mailboxes of acme.test' }).click();
    await h1(page, 'Mailboxes of acme.test');
    await aliceRow.filter({ hasText: 'Disabled' }).filter({ hasText: 'of 20 MiB' }).waitFor();
    await shot(page, '06-virtual-list');

    // A mailbox added and removed again (after the browser's confirmation).
    await addAccount.getByLabel('Address').fill('temp@acme.test');
    await addAccount.getByLabel('Password').fill(USER_PASSWORD);
    await addAccount.getByLabel('Quota in MiB (empty for no limit)').fill('');
    await addAccount.getByRole('button', { name: 'Add mailbox' }).click();
    await page.getByRole('link', { name: 'Edit temp@acme.test' }).click();
    await h1(page, 'Mailbox temp@acme.test');
    await page.getByRole('button', { name: 'Remove mailbox' }).click();
    await h1(page, 'Mailboxes of acme.test');
    await status(page).filter({ hasText: 'Mailbox temp@acme.test removed.' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Edit temp@acme.test' }).count(), 0);

    await page.getByRole('link', { name: 'Aliases of this domain' }).click();
    await h1(page, 'Aliases of acme.test');
    await page.getByLabel('Alias address').fill('info@acme.test');
    await page.getByLabel('Delivered to').fill('alice@acme.test\npostmaster@acme.test');
    await page.getByRole('button', { name: 'Save alias' }).click();
    await status(page).filter({ hasText: 'Alias info@acme.test saved.' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'info@acme.test' }).filter({ hasText: 'alice@acme.test, postmaster@acme.test' }).waitFor();
    await shot(page, '07-aliases');

    await page.goto(`${base}/#/dns/acme.test`);
    await h1(page, 'DNS records of acme.test');
    await page.getByRole('row').filter({ hasText: 'MX' }).first().waitFor();
    // A DKIM key made from the page adds its TXT record to the list.
    await page.getByLabel('Selector (empty for one named after today)').fill('panel');
    await page.getByLabel('Key type').selectOption('ed25519');
    await page.getByRole('button', { name: 'Make key' }).click();
    await status(page).filter({ hasText: 'DKIM key panel made' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'panel._domainkey.acme.test' }).filter({ hasText: 'v=DKIM1' }).waitFor();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.getByRole('button', { name: /^Copy value of the MX record/ }).first().click();
    await status(page).filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    await shot(page, '08-dns');

    await page.getByRole('link', { name: 'Audit log' }).click();
    await h1(page, 'Audit log');
    const audit = page.locator('#audit-table tbody tr');
    for (const target of ['acme.test', 'alice@acme.test', 'info@acme.test']) {
      await audit.filter({ hasText: target }).first().waitFor();
    }
    // Added, disabled, quota changed: three changes of alice's mailbox at least.
    assert.ok((await audit.filter({ has: page.locator('td:nth-child(4)', { hasText: /^alice@acme\.test$/ }) }).count()) >= 3);
    assert.ok((await audit.filter({ hasText: 'root' }).count()) >= 5);
    await shot(page, '09-audit');
  });

  test('a domain admin sees only their domain and is refused another one', async () => {
    cli(['admin', 'add', 'dom', '--password-stdin', '--domain', 'acme.test'], `${ADMIN_PASSWORD}\n`);
    const page = await newPage();
    await login(page, 'dom', ADMIN_PASSWORD, 'Domains');
    await page.getByRole('link', { name: 'acme.test', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'other.test', exact: true }).count(), 0);
    assert.equal(await page.locator('#add-domain').count(), 0, 'no add-domain form for a domain admin');
    await shot(page, '10-domains-domain-admin');
    await page.goto(`${base}/#/domain/other.test`);
    await page.locator('#alert').filter({ hasText: 'You are not allowed to see this page.' }).waitFor();
    assert.equal(await page.locator('main table').count(), 0, 'no mailbox list of the other domain');
    await shot(page, '11-domain-admin-refused');
  });

  test('a user sets an out-of-office reply; mail to them then queues the vacation reply', async () => {
    cli(['user', 'add', 'bob@acme.test', '--password-stdin'], `${USER_PASSWORD}\n`);
    const page = await newPage();
    await login(page, 'bob@acme.test', USER_PASSWORD, 'My account');
    await page.getByRole('link', { name: 'Download the configuration profile for iPhone, iPad and Mac' }).waitFor();
    const form = page.locator('#me-vacation');
    await form.getByLabel('Send an automatic reply').check();
    await form.getByLabel('Subject').fill('Away this week');
    await form.getByLabel('Message').fill('I am away and will answer when I am back.');
    await form.getByLabel(/^Reply to the same sender/).fill('1');
    await form.getByRole('button', { name: 'Save out-of-office reply' }).click();
    await status(page).filter({ hasText: 'Out-of-office reply saved.' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'vacation' }).filter({ hasText: 'yes' }).waitFor();
    await shot(page, '12-me');

    const r = await swaks(['--server', `127.0.0.1:${smtpPort}`, '--from', 'friend@remote.test', '--to', 'bob@acme.test', '--header', 'To: bob@acme.test', '--header', 'Subject: are you there?']);
    assert.equal(r.code, 0, r.out);
    // The reply is queued before the MX answers 250, but the CLI reads the queue from disk: poll briefly.
    type Entry = { id: string; sender: string; recipients: string[] };
    const deadline = Date.now() + WAIT;
    let reply: Entry | undefined;
    while (!reply && Date.now() < deadline) {
      reply = (JSON.parse(cli(['queue', 'list', '--json'])) as Entry[]).find((e) => e.recipients.includes('friend@remote.test'));
      if (!reply) await new Promise((res) => setTimeout(res, 250));
    }
    assert.ok(reply, 'the vacation reply is in the queue');
    assert.equal(reply.sender, '');

    // The queue page shows it to the administrator.
    const admin = await newPage();
    await login(admin, 'root', ADMIN_PASSWORD, 'Domains');
    await admin.getByRole('link', { name: 'Queue' }).click();
    await h1(admin, 'Outbound queue');
    const row = admin.getByRole('row').filter({ hasText: 'friend@remote.test' });
    await row.waitFor();
    await shot(admin, '13-queue');
    await row.getByRole('button', { name: `Hold ${reply.id}` }).click();
    await status(admin).filter({ hasText: `Done: ${reply.id}.` }).waitFor();
    await row.getByRole('button', { name: `Release ${reply.id}` }).waitFor();
    assert.equal((JSON.parse(cli(['queue', 'list', '--json'])) as Array<Entry & { held: boolean }>).find((e) => e.id === reply.id)?.held, true);

    // The user changes their password on their page; the new one logs in.
    const me = page.locator('#me-password');
    await me.getByLabel('Current password').fill(USER_PASSWORD);
    await me.getByLabel('New password', { exact: true }).fill('walnut-harbor-bicycle-7');
    await me.getByLabel('New password again').fill('walnut-harbor-bicycle-7');
    await me.getByRole('button', { name: 'Change password' }).click();
    await status(page).filter({ hasText: 'Your password was changed.' }).waitFor();
    const again = await newPage();
    await login(again, 'bob@acme.test', 'walnut-harbor-bicycle-7', 'My account');
  });
});
