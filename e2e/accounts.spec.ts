/**
 * Issue 4 in the browser, against the real relay over HTTPS: the whole first run (setup link,
 * the three administrators registering, the security administrator's browser making the
 * enterprise CA), an employee invited, approved, registered, certified and signed in; a
 * legal-name change requested and approved; a role change proposed and approved, and a decision
 * refused because the decider made the request; a password change; a disabled account that can
 * no longer unlock. Each person has their own browser context, as they would their own browser.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';

const PASSWORDS = {
  sys: 'Ledger lantern orchard 7 system',
  sec: 'Quartz meadow signet 9 security',
  auditor: 'Harbor compass juniper 4 audit',
  zhang: 'Vermilion teapot ridge 3 合同',
  zhangNew: 'Saffron glacier parcel 8 新',
};

async function personPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, baseURL: test.info().project.use.baseURL });
  return context.newPage();
}

/** The invitation page: choose a password, watch the steps, keep the recovery code. */
async function register(page: Page, link: string | null, password: string): Promise<string> {
  if (link) await page.goto(link);
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the new password').fill(password);
  await expect(page.getByTestId('password-strength')).toContainText(/Strength: (strong|very strong)/);
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByTestId('steps')).toBeVisible();
  await expect(page.getByTestId('registered')).toBeVisible({ timeout: 60_000 });
  const code = (await page.getByTestId('recovery-code').textContent())?.trim() ?? '';
  expect(code).toMatch(/^([0-9A-F]{4}-){7}[0-9A-F]{4}$/);
  await page.getByLabel('I have stored my recovery code somewhere safe').check();
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page.getByTestId('welcome')).toBeVisible();
  return code;
}

async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function openConsole(page: Page, name: 'System administration' | 'Security administration' | 'My account'): Promise<void> {
  // In-app navigation: a reload would lock the vault (keys live in this tab's memory only).
  // Through the home page, so a console already open loads afresh.
  await page.getByRole('banner').getByRole('link', { name: /^Sealvault/ }).click();
  await page.getByTestId('welcome').waitFor();
  await page.getByRole('navigation').getByRole('link', { name }).click();
}

test('an enterprise goes from a fresh install to certified employee accounts, with four eyes everywhere', async ({ browser }) => {
  test.setTimeout(300_000);
  const link = readFileSync(join(process.env.SEALVAULT_E2E_DATA ?? '', 'setup-link.txt'), 'utf8').trim();
  const setupPath = new URL(link).pathname + new URL(link).hash;

  const operator = await personPage(browser);
  const invitations: Record<string, string> = {};
  await test.step('first-run setup names the enterprise and its three administrators', async () => {
    await operator.goto(setupPath);
    // The one-time token leaves the address bar at once.
    await expect(operator).toHaveURL(/\/setup$/);
    await operator.getByLabel('Enterprise name (also drawn on company seals)').fill('示例科技 Example Tech');
    const people = { 'system-admin': ['王系统', 'A001', 'sys'], 'security-admin': ['李安全', 'A002', 'sec'], auditor: ['赵审计', 'A003', 'auditor'] } as const;
    for (const [role, [name, number, username]] of Object.entries(people)) {
      const box = operator.locator(`fieldset[data-role="${role}"]`);
      await box.getByLabel('Legal name', { exact: true }).fill(name);
      await box.getByLabel('Employee number', { exact: true }).fill(number);
      await box.getByLabel('Contact (e-mail or phone)').fill(`${username}@example.test`);
      await box.getByLabel('Username (optional; the employee number otherwise)').fill(username);
    }
    await operator.getByRole('button', { name: 'Create the enterprise' }).click();
    const table = operator.getByTestId('setup-invitations');
    await expect(table).toBeVisible();
    for (const role of Object.keys(people)) {
      invitations[role] = await table.locator(`tr[data-role="${role}"]`).getByTestId('invitation-link').inputValue();
      expect(invitations[role]).toMatch(/\/register#[A-Za-z0-9_-]{43}$/);
    }
    // The link is spent (a second browser tries it).
    const late = await personPage(browser);
    await late.goto(setupPath);
    await expect(late.getByText('This Sealvault is already set up.')).toBeVisible();
  });

  const sec = await personPage(browser);
  const sys = await personPage(browser);
  const auditor = await personPage(browser);
  await test.step('the security administrator registers first and their browser makes the enterprise CA', async () => {
    await sec.goto(invitations['security-admin']!);
    await sec.getByLabel('New password', { exact: true }).fill('password123');
    await expect(sec.getByTestId('password-strength')).toContainText(/Too short|most common|Too easy/);
    await expect(sec.getByRole('button', { name: 'Register' })).toBeDisabled();
    await register(sec, null, PASSWORDS.sec);
    await openConsole(sec, 'Security administration');
    await expect(sec.getByTestId('ca-fingerprint')).toBeVisible();
    await expect(sec.getByTestId('ca-key-holders')).toContainText('李安全');
  });
  await test.step('the system administrator and the auditor register', async () => {
    await register(sys, invitations['system-admin']!, PASSWORDS.sys);
    await register(auditor, invitations.auditor!, PASSWORDS.auditor);
    await expect(auditor.getByRole('navigation').getByRole('link', { name: 'System administration' })).toHaveCount(0);
  });

  let employeeLink = '';
  await test.step('the system administrator invites an employee and proposes a role; separation of roles holds', async () => {
    await openConsole(sys, 'System administration');
    const form = sys.getByTestId('system-console');
    await form.getByLabel('Legal name', { exact: true }).first().fill('张三');
    await form.getByLabel('Employee number', { exact: true }).first().fill('E1001');
    await form.getByLabel('Contact (e-mail or phone)').first().fill('zhang@example.test');
    await form.getByLabel('Username (optional; the employee number otherwise)').fill('zhang');
    await sys.getByRole('button', { name: 'Invite employee' }).click();
    employeeLink = await sys.getByTestId('invited').getByTestId('invitation-link').inputValue();
    expect(employeeLink).toMatch(/\/register#/);

    const row = sys.locator('[data-testid="accounts"] tr[data-username="zhang"]');
    await expect(row).toBeVisible();
    await row.getByLabel('Role').selectOption('space-manager');
    await row.getByLabel('Change').selectOption('add');
    await row.getByRole('button', { name: 'Propose' }).click();
    await expect(sys.locator('[data-testid="role-requests"] tr').filter({ hasText: '张三' })).toBeVisible();

    // Two administrator roles on one account: refused by the relay, shown in words.
    const secRow = sys.locator('[data-testid="accounts"] tr[data-username="sec"]');
    await secRow.getByLabel('Role').selectOption('auditor');
    await secRow.getByLabel('Change').selectOption('add');
    await secRow.getByRole('button', { name: 'Propose' }).click();
    await expect(secRow.getByRole('alert')).toContainText('No account may hold two of the administrator roles');

    // A role change for the security administrator themself, to show they cannot decide it.
    await secRow.getByLabel('Role').selectOption('space-manager');
    await secRow.getByLabel('Change').selectOption('add');
    await secRow.getByRole('button', { name: 'Propose' }).click();
  });

  await test.step('the security administrator approves the real name and the role change, and cannot decide about themself', async () => {
    await openConsole(sec, 'Security administration');
    await sec.locator('[data-testid="pending-accounts"] tr[data-username="zhang"]').getByRole('button', { name: 'Approve' }).click();
    await expect(sec.locator('[data-testid="pending-accounts"] tr[data-username="zhang"]')).toHaveCount(0);
    const zhangRequest = sec.locator('[data-testid="role-requests"] tr').filter({ hasText: '张三' });
    await zhangRequest.getByRole('button', { name: 'Approve' }).click();
    await expect(zhangRequest).toHaveCount(0);
    const ownRequest = sec.locator('[data-testid="role-requests"] tr').filter({ hasText: '李安全' });
    await ownRequest.getByRole('button', { name: 'Approve' }).click();
    await expect(ownRequest.getByRole('alert')).toContainText('Four-eyes rule');
    await ownRequest.getByLabel('Reason').fill('administrators hold no data roles');
    await ownRequest.getByRole('button', { name: 'Reject' }).click();
    await expect(ownRequest.getByRole('alert')).toContainText('Four-eyes rule');
  });

  const zhang = await personPage(browser);
  await test.step('the employee registers; the security administrator checks the real name and certifies the keys', async () => {
    await register(zhang, employeeLink, PASSWORDS.zhang);
    await expect(zhang.getByTestId('welcome')).toContainText('Not certified yet');
    await expect(zhang.getByTestId('welcome')).toContainText('Space manager');

    await openConsole(sec, 'Security administration');
    const row = sec.locator('[data-testid="to-certify"] tr[data-username="zhang"]');
    await expect(row).toContainText('张三');
    await expect(row).toContainText('E1001');
    await row.getByRole('button', { name: 'Certify' }).click();
    await expect(sec.getByTestId('certify-status')).toContainText('certified', { timeout: 30_000 });
    await expect(sec.locator('[data-testid="certified"] tr[data-username="zhang"]')).toBeVisible();
  });

  await test.step('the employee signs in with both key halves and is certified', async () => {
    await zhang.getByRole('button', { name: 'Sign out' }).click();
    await signIn(zhang, 'zhang', 'a wrong password entirely');
    await expect(zhang.getByTestId('login-error')).toContainText('Wrong username or password');
    await signIn(zhang, 'zhang', PASSWORDS.zhang);
    await expect(zhang.getByTestId('welcome')).toContainText('Welcome, 张三', { timeout: 30_000 });
    await expect(zhang.getByTestId('welcome')).toContainText('Certified');
  });

  await test.step('a legal-name change is requested by the employee and approved by the security administrator', async () => {
    await openConsole(zhang, 'My account');
    await zhang.getByTestId('profile').waitFor();
    await zhang.locator('section').filter({ hasText: 'Change of legal name or employee number' }).getByLabel('Legal name', { exact: true }).fill('张三丰');
    await zhang.getByRole('button', { name: 'Request the change' }).click();
    await expect(zhang.getByTestId('name-change-note')).toContainText('Requested');

    await openConsole(sec, 'Security administration');
    const request = sec.locator('[data-testid="account-requests"] tr').filter({ hasText: '张三丰' });
    await request.getByRole('button', { name: 'Approve' }).click();
    await expect(request).toHaveCount(0);
    // The certificate named the old name: it is revoked and the account is back in the queue.
    await expect(sec.locator('[data-testid="to-certify"] tr[data-username="zhang"]')).toContainText('张三丰');
    await sec.locator('[data-testid="to-certify"] tr[data-username="zhang"]').getByRole('button', { name: 'Certify' }).click();
    await expect(sec.locator('[data-testid="certified"] tr[data-username="zhang"]')).toBeVisible({ timeout: 30_000 });

    await openConsole(zhang, 'My account');
    await expect(zhang.getByTestId('profile-legal-name')).toHaveText('张三丰');
    await expect(zhang.getByTestId('history')).toContainText('Profile change requested');
  });

  await test.step('the employee changes the password; the old one stops working', async () => {
    await zhang.getByLabel('Current password').fill(PASSWORDS.zhang);
    await zhang.locator('#change-password').fill(PASSWORDS.zhangNew);
    await zhang.locator('#change-confirm').fill(PASSWORDS.zhangNew);
    await zhang.getByRole('button', { name: 'Change password' }).click();
    await expect(zhang.getByTestId('password-done')).toBeVisible({ timeout: 60_000 });
    await zhang.getByRole('button', { name: 'Sign out' }).click();
    await signIn(zhang, 'zhang', PASSWORDS.zhang);
    await expect(zhang.getByTestId('login-error')).toContainText('Wrong username or password');
    await signIn(zhang, 'zhang', PASSWORDS.zhangNew);
    await expect(zhang.getByTestId('welcome')).toContainText('Welcome, 张三丰', { timeout: 30_000 });
  });

  await test.step('disabling is requested by the system administrator, approved by the security administrator, and the account can no longer unlock', async () => {
    await openConsole(sys, 'System administration');
    const row = sys.locator('[data-testid="accounts"] tr[data-username="zhang"]');
    await row.getByLabel('Reason').fill('left the company');
    await row.getByRole('button', { name: 'Request disabling' }).click();
    await expect(sys.locator('[data-testid="account-requests"] tr').filter({ hasText: 'left the company' })).toBeVisible();

    await openConsole(sec, 'Security administration');
    const request = sec.locator('[data-testid="account-requests"] tr').filter({ hasText: 'left the company' });
    await request.getByRole('button', { name: 'Approve' }).click();
    await expect(request).toHaveCount(0);

    // The open tab's session ends at the relay; a new sign-in is refused in words.
    await zhang.getByRole('button', { name: 'Sign out' }).click();
    await signIn(zhang, 'zhang', PASSWORDS.zhangNew);
    await expect(zhang.getByTestId('login-error')).toContainText('This account is disabled');
  });
});

test('the relay sending weak key-derivation parameters is refused before any hashing', async ({ page }) => {
  await page.route('**/api/directory/prelogin', async (route) => {
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ salt: 'AAAAAAAAAAAAAAAAAAAAAA', kdf: { m: 1024, t: 1, p: 1 } }) });
  });
  await signIn(page, 'zhang', 'whatever it is');
  await expect(page.getByTestId('login-error')).toContainText('below the safe minimum');
  // The steps stopped at prelogin: the Argon2id step never started.
  await expect(page.getByTestId('steps').locator('li.current')).toContainText('Fetching your key-derivation settings');
  await expect(page.getByTestId('argon2-progress')).toHaveCount(0);
});

test('a tab left idle past the policy timeout signs out by itself and drops the keys', async ({ page }) => {
  // Runs after the first test, which registered the auditor.
  await page.clock.install();
  await signIn(page, 'auditor', PASSWORDS.auditor);
  await expect(page.getByTestId('welcome')).toContainText('Welcome, 赵审计', { timeout: 30_000 });
  // The default policy is 15 minutes without a key press or click.
  await page.clock.fastForward('16:00');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByTestId('lock-reason')).toContainText('15 minutes without activity');
  await expect(page.getByRole('navigation').getByRole('link', { name: 'Sign in' })).toBeVisible();
});
