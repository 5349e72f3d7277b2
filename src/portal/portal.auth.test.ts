import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { newCard } from '../../test/support/fuel.js';
import {
  asCardholder,
  customerWithPhone,
  forgetLastCodeRequest,
  fromAddress,
  latestCode,
  newPhone,
  outbox,
  phoneBidx,
  PORTAL_PASSWORD,
  requestCode,
  signIn,
} from './portal.fixtures.js';

/** Cardholder sign-in end to end: codes through the dev outbox, passwords, sessions, lockout. */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const setPassword = (phone: string, code: string, password = PORTAL_PASSWORD) =>
  server.api('POST', '/api/v1/portal/auth/password', { role: null, body: { phone, code, password } });
const login = (phone: string, password = PORTAL_PASSWORD) => server.api('POST', '/api/v1/portal/auth/login', { role: null, body: { phone, password } });
const expectError = (r: { status: number; body: any }, status: number, code: string) => expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('first sign-in', () => {
  it('code by message, password set with it, then password logins; logout ends the session', async () => {
    const { id, phone } = await customerWithPhone(server);
    const before = (await outbox(server)).length;
    // No password yet: the same refusal as a wrong one.
    expectError(await login(phone), 401, 'PORTAL_INVALID_CREDENTIALS');
    await forgetLastCodeRequest(server, phone);

    const sent = await requestCode(server, phone);
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ sent: true, expiresInSeconds: 300, challenge: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/) });
    const messages = await outbox(server);
    expect(messages.length).toBe(before + 1);
    expect(messages[0]).toMatchObject({ to: phone, template: 'portal.code', status: 'pending' });
    const code = await latestCode(server, phone);
    expect(code).toMatch(/^\d{6}$/);

    // At rest the code is a keyed MAC and the message is encrypted: neither holds the code or the phone.
    const rows = await sql<{ code_hash: string }>`select code_hash from portal_codes where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
    expect(rows.rows.length).toBeGreaterThan(0);
    for (const r of rows.rows) expect(r.code_hash).not.toContain(code!);
    const stored = await sql<{ to_enc: string; text_enc: string }>`select to_enc, text_enc from messages order by id desc limit 1`.execute(server.db.db);
    expect(stored.rows[0]!.to_enc).not.toContain(phone);
    expect(stored.rows[0]!.text_enc).not.toContain(code!);

    const signed = await setPassword(phone, code!);
    expect(signed.status).toBe(200);
    expect(signed.body.customer).toEqual({ customerId: id, name: '王**', phone: `${phone.slice(0, 3)}****${phone.slice(-4)}` });
    expect(signed.body.token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    const ttl = Date.parse(signed.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(30 * 86_400_000 - 60_000);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400_000);
    // Only the token's hash is stored.
    const tokenRows = await sql<{ n: number }>`select count(*)::int n from portal_sessions where token_hash = ${signed.body.token}`.execute(server.db.db);
    expect(tokenRows.rows[0]!.n).toBe(0);

    const me = await asCardholder(server, signed.body.token, 'GET', '/api/v1/portal/me');
    expect(me.status).toBe(200);
    expect(me.body).toEqual(signed.body.customer);

    const again = await login(phone);
    expect(again.status).toBe(200);
    expect(again.body.customer.customerId).toBe(id);
    // +86 and spaces are the same phone.
    expect((await login(`+86 ${phone.slice(0, 3)} ${phone.slice(3)}`)).status).toBe(200);

    expect((await asCardholder(server, again.body.token, 'POST', '/api/v1/portal/auth/logout')).status).toBe(204);
    expectError(await asCardholder(server, again.body.token, 'GET', '/api/v1/portal/me'), 401, 'UNAUTHENTICATED');
    expect((await asCardholder(server, signed.body.token, 'GET', '/api/v1/portal/me')).status).toBe(200);

    // Audited as the cardholder.
    const audit = await sql<{ action: string; actor_name: string; actor_role: string }>`select action, actor_name, actor_role from audit_log
      where target_type = 'customer' and target_id = ${String(id)} and action like 'portal.%' order by id`.execute(server.db.db);
    expect(audit.rows.map((a) => a.action)).toEqual(['portal.password_set', 'portal.login', 'portal.login']);
    expect(audit.rows[0]).toMatchObject({ actor_name: `customer:${id}`, actor_role: 'cardholder' });
  });

  it('a weak password is refused without spending the code', async () => {
    const { phone } = await customerWithPhone(server);
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const code = (await latestCode(server, phone))!;
    const weak = await setPassword(phone, code, 'short7!');
    expectError(weak, 400, 'PORTAL_PASSWORD_WEAK');
    expect((await setPassword(phone, code, 'long-enough')).status).toBe(200);
  });

  it('wrong, reused, expired and over-tried codes are PORTAL_CODE_INVALID', async () => {
    const { phone } = await customerWithPhone(server);
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const code = (await latestCode(server, phone))!;
    expectError(await setPassword(phone, wrongCode(code)), 400, 'PORTAL_CODE_INVALID');
    expectError(await setPassword(phone, 'abcdef'), 400, 'PORTAL_CODE_INVALID');
    // Two wrong tries still leave the right code usable.
    expect((await setPassword(phone, code)).status).toBe(200);
    // Used once: never again.
    expectError(await setPassword(phone, code), 400, 'PORTAL_CODE_INVALID');

    // Expired after 5 minutes.
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const stale = (await latestCode(server, phone))!;
    await sql`update portal_codes set expires_at = now() - interval '1 second' where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
    expectError(await setPassword(phone, stale), 400, 'PORTAL_CODE_INVALID');

    // Five wrong tries kill the code, even for the right one afterwards.
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const tried = (await latestCode(server, phone))!;
    for (let i = 0; i < 5; i++) expectError(await setPassword(phone, wrongCode(tried)), 400, 'PORTAL_CODE_INVALID');
    expectError(await setPassword(phone, tried), 400, 'PORTAL_CODE_INVALID');

    // Only the newest code counts.
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const older = (await latestCode(server, phone))!;
    await forgetLastCodeRequest(server, phone);
    await requestCode(server, phone);
    const newest = (await latestCode(server, phone))!;
    if (older !== newest) expectError(await setPassword(phone, older), 400, 'PORTAL_CODE_INVALID');
    expect((await setPassword(phone, newest)).status).toBe(200);
  });

  it('one code per phone per 60 s: 429 PORTAL_CODE_TOO_SOON with retryAfterSeconds', async () => {
    const { phone } = await customerWithPhone(server);
    await forgetLastCodeRequest(server, phone);
    expect((await requestCode(server, phone)).status).toBe(202);
    const count = (await outbox(server)).length;
    const soon = await requestCode(server, phone);
    expectError(soon, 429, 'PORTAL_CODE_TOO_SOON');
    expect(soon.body.error.details.retryAfterSeconds).toBeGreaterThan(0);
    expect(soon.body.error.details.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(Number(soon.headers.get('retry-after'))).toBe(soon.body.error.details.retryAfterSeconds);
    expect((await outbox(server)).length).toBe(count);
    await forgetLastCodeRequest(server, phone);
    expect((await requestCode(server, phone)).status).toBe(202);
  });

  it('at most 5 codes a day per phone and address, 25 per phone from all addresses; known or unknown alike', async () => {
    const known = (await customerWithPhone(server)).phone;
    for (const phone of [known, newPhone()]) {
      const addresses = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4', '198.51.100.5'].map((ip) => fromAddress(server, ip));
      for (const [n, client] of addresses.entries()) {
        for (let i = 0; i < 5; i++) {
          await forgetLastCodeRequest(server, phone);
          expect((await client.requestCode(phone)).status).toBe(202);
        }
        await forgetLastCodeRequest(server, phone);
        const capped = await client.requestCode(phone);
        expectError(capped, 429, 'PORTAL_CODE_TOO_SOON');
        expect(capped.body.error.details.retryAfterSeconds).toBeGreaterThan(23 * 3600);
        expect(capped.headers.get('retry-after')).toBe(String(capped.body.error.details.retryAfterSeconds));
        // Until the phone's 25 are used, another address still gets one (taken back, to keep the count).
        if (n < addresses.length - 1) {
          expect((await addresses[n + 1]!.requestCode(phone)).status).toBe(202);
          await sql`delete from portal_codes where id = (select max(id) from portal_codes where phone_bidx = ${phoneBidx(server, phone)})`.execute(server.db.db);
        }
      }
      // 25 from five addresses: a sixth is refused too, for the rest of the day.
      const ceiling = await fromAddress(server, '198.51.100.6').requestCode(phone);
      expectError(ceiling, 429, 'PORTAL_CODE_TOO_SOON');
      expect(ceiling.body.error.details.retryAfterSeconds).toBeGreaterThan(23 * 3600);
      await sql`update portal_codes set created_at = created_at - interval '1 day' where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
      expect((await fromAddress(server, '198.51.100.6').requestCode(phone)).status).toBe(202);
      expect((await addresses[0]!.requestCode(phone)).status).toBe(202);
    }
  });

  it('setting a password with a code ends the phone’s other sessions', async () => {
    const { phone } = await customerWithPhone(server);
    const first = await signIn(server, phone);
    const second = await signIn(server, phone, 'another-password');
    expectError(await asCardholder(server, first, 'GET', '/api/v1/portal/me'), 401, 'UNAUTHENTICATED');
    expect((await asCardholder(server, second, 'GET', '/api/v1/portal/me')).status).toBe(200);
    expectError(await login(phone), 401, 'PORTAL_INVALID_CREDENTIALS');
    expect((await login(phone, 'another-password')).status).toBe(200);
  });

  it('an expired session is 401', async () => {
    const { id, phone } = await customerWithPhone(server);
    const token = await signIn(server, phone);
    await sql`update portal_sessions set expires_at = now() - interval '1 second' where customer_id = ${id}`.execute(server.db.db);
    expectError(await asCardholder(server, token, 'GET', '/api/v1/portal/me'), 401, 'UNAUTHENTICATED');
  });
});

describe('no phone enumeration', () => {
  it('an unknown phone gets the same answers and no message', async () => {
    const unknown = newPhone();
    const known = (await customerWithPhone(server)).phone;
    await forgetLastCodeRequest(server, known);
    const count = (await outbox(server)).length;

    const a = await requestCode(server, unknown);
    const b = await requestCode(server, known);
    expect(a.status).toBe(202);
    // The same answer, but for the random challenge.
    expect({ ...a.body, challenge: 'x' }).toEqual({ ...b.body, challenge: 'x' });
    expect(a.body.challenge).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const after = await outbox(server);
    expect(after.length).toBe(count + 1);
    expect(after.some((m) => m.to === unknown)).toBe(false);

    // The 60 s spacing applies alike.
    const soonA = await requestCode(server, unknown);
    const soonB = await requestCode(server, known);
    expect([soonA.status, soonA.body.error.code]).toEqual([soonB.status, soonB.body.error.code]);

    // Any code for an unknown phone is simply invalid; a password login the same 401 as a wrong password.
    expectError(await setPassword(unknown, '123456'), 400, 'PORTAL_CODE_INVALID');
    const wrongUnknown = await login(unknown, 'whatever-pass');
    const wrongKnown = await login(known, 'whatever-pass');
    expectError(wrongUnknown, 401, 'PORTAL_INVALID_CREDENTIALS');
    expect(wrongUnknown.body).toEqual(wrongKnown.body);
  });

  it('a malformed phone is a 400 naming the field, whoever asks', async () => {
    const r = await requestCode(server, '12345');
    expectError(r, 400, 'CUSTOMER_PHONE_INVALID');
    expect(r.body.error.details.field).toBe('phone');
    expectError(await server.api('POST', '/api/v1/portal/auth/code', { role: null, body: { phone: newPhone(), extra: 1 } }), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', '/api/v1/portal/auth/login', { role: null, body: { phone: newPhone() } }), 400, 'VALIDATION_FAILED');
  });
});

describe('login lockout', () => {
  it('after 5 wrong passwords the phone is locked for FUELCARD_LOGIN_LOCK_MIN at that address; known and unknown phones alike', async () => {
    const lockMin = server.config.loginLockMs / 60_000;
    const { phone } = await customerWithPhone(server);
    await signIn(server, phone);
    const unknown = newPhone();
    for (const p of [phone, unknown]) {
      for (let i = 0; i < 5; i++) expectError(await login(p, `wrong-password-${i}`), 401, 'PORTAL_INVALID_CREDENTIALS');
      const locked = await login(p);
      expectError(locked, 429, 'PORTAL_LOGIN_LOCKED');
      expect(locked.body.error.details.retryAfterSeconds).toBeGreaterThan((lockMin - 1) * 60);
      expect(locked.body.error.details.retryAfterSeconds).toBeLessThanOrEqual(lockMin * 60);
      expect(locked.headers.get('retry-after')).toBe(String(locked.body.error.details.retryAfterSeconds));
    }
    // Another phone is not affected.
    const other = (await customerWithPhone(server)).phone;
    await signIn(server, other);
    expect((await login(other)).status).toBe(200);
    // When the lock has passed, the right password works and the count starts afresh.
    await sql`update portal_login_failures set at = at - make_interval(mins => ${lockMin}) where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
    expectError(await login(phone, 'still-wrong'), 401, 'PORTAL_INVALID_CREDENTIALS');
    expect((await login(phone)).status).toBe(200);
  });

  it('signing in with a code lifts the lock', async () => {
    const { phone } = await customerWithPhone(server);
    await signIn(server, phone);
    for (let i = 0; i < 5; i++) await login(phone, `wrong-password-${i}`);
    expectError(await login(phone), 429, 'PORTAL_LOGIN_LOCKED');
    await signIn(server, phone);
    expect((await login(phone)).status).toBe(200);
  });
});

describe('an attacker without the phone cannot lock the holder out', () => {
  const attackerIp = '203.0.113.7';
  const holderIp = '198.51.100.20';
  const codesTo = async (phone: string) => (await outbox(server)).filter((m) => m.to === phone && m.template === 'portal.code').length;
  const ageFailures = (phone: string, interval: string) =>
    sql`update portal_login_failures set at = at - ${interval}::interval where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);

  it('5 wrong passwords and 9 code requests from one address, repeated all day, leave password and code sign-in open to the holder elsewhere', async () => {
    const { phone } = await customerWithPhone(server);
    const attacker = fromAddress(server, attackerIp);
    const holder = fromAddress(server, holderIp);
    await signIn(server, phone);
    const before = await codesTo(phone);

    // The reported sequence: the password locked, then the codes used up, from address A.
    for (let i = 0; i < 5; i++) expectError(await attacker.login(phone, `wrong-password-${i}`), 401, 'PORTAL_INVALID_CREDENTIALS');
    expectError(await attacker.login(phone), 429, 'PORTAL_LOGIN_LOCKED');
    const answers: number[] = [];
    for (let i = 0; i < 9; i++) {
      await forgetLastCodeRequest(server, phone);
      answers.push((await attacker.requestCode(phone)).status);
    }
    expect(answers).toEqual([202, 202, 202, 202, 202, 429, 429, 429, 429]);
    // The attacker's codes cannot be tried without the code, and a guess spends only their own.
    for (let i = 0; i < 5; i++) expectError(await attacker.setPassword(phone, String(100_000 + i), 'attacker-pass'), 400, 'PORTAL_CODE_INVALID');

    // Repeated every 15 minutes for the rest of the day: this address runs out of tries.
    let refused = 0;
    for (let round = 0; round < 6; round++) {
      await ageFailures(phone, '15 minutes');
      for (let i = 0; i < 5; i++) if ((await attacker.login(phone, `again-wrong-${round}-${i}`)).status === 429) refused++;
    }
    // 20 wrong passwords a day from one address (5 + 3 rounds of 5), then 429 for the other 3 rounds.
    expect(refused).toBe(15);
    const dayLocked = await attacker.login(phone);
    expectError(dayLocked, 429, 'PORTAL_LOGIN_LOCKED');
    expect(dayLocked.body.error.details.retryAfterSeconds).toBeGreaterThan(20 * 3600);

    // The holder, elsewhere: the password works...
    const byPassword = await holder.login(phone);
    expect(byPassword.status).toBe(200);
    // ... and so does a code, with its challenge or (an older client) from the same address.
    await forgetLastCodeRequest(server, phone);
    const sent = await holder.requestCode(phone);
    expect(sent.status).toBe(202);
    expect((await holder.setPassword(phone, (await latestCode(server, phone))!, 'holder-new-pass', sent.body.challenge)).status).toBe(200);
    await forgetLastCodeRequest(server, phone);
    expect((await holder.requestCode(phone)).status).toBe(202);
    expect((await holder.setPassword(phone, (await latestCode(server, phone))!, 'holder-newer-pass')).status).toBe(200);

    // The phone got the 5 codes the attacker asked for, not 9 (plus the holder's 2).
    expect((await codesTo(phone)) - before).toBe(5 + 2);
    // A code sign-in replaced the password, so the guesses at the old one no longer count.
    expectError(await attacker.login(phone, 'a-fresh-guess'), 401, 'PORTAL_INVALID_CREDENTIALS');
  });

  it('a code can be tried only by whoever requested it: others cannot replace it or spend its tries', async () => {
    const { phone } = await customerWithPhone(server);
    const attacker = fromAddress(server, attackerIp);
    const holder = fromAddress(server, holderIp);
    await forgetLastCodeRequest(server, phone);
    const mine = await holder.requestCode(phone);
    const code = (await latestCode(server, phone))!;
    // A later request from elsewhere does not replace the holder's code...
    await forgetLastCodeRequest(server, phone);
    expect((await attacker.requestCode(phone)).status).toBe(202);
    // ... and wrong guesses from elsewhere, with or without a made-up challenge, spend only the attacker's own code.
    for (let i = 0; i < 6; i++) expectError(await attacker.setPassword(phone, wrongCode(code)), 400, 'PORTAL_CODE_INVALID');
    for (let i = 0; i < 6; i++) expectError(await attacker.setPassword(phone, wrongCode(code), PORTAL_PASSWORD, `made-up-challenge-${i}xxxxxxxx`), 400, 'PORTAL_CODE_INVALID');
    // The holder's code, used from another address of theirs (a phone on mobile data), still works with its challenge.
    expect((await fromAddress(server, '198.51.100.21').setPassword(phone, code, PORTAL_PASSWORD, mine.body.challenge)).status).toBe(200);
    // A challenge belongs to its phone.
    const other = (await customerWithPhone(server)).phone;
    await forgetLastCodeRequest(server, other);
    const theirs = await holder.requestCode(other);
    expectError(await holder.setPassword(phone, (await latestCode(server, other))!, PORTAL_PASSWORD, theirs.body.challenge), 400, 'PORTAL_CODE_INVALID');
    // A malformed challenge is refused by the schema.
    expectError(await server.api('POST', '/api/v1/portal/auth/password', { role: null, body: { phone, code, password: PORTAL_PASSWORD, challenge: 'bad challenge' } }), 400, 'VALIDATION_FAILED');
  });

  it('guessing from many addresses is bounded: 100 wrong passwords a day per phone, then only a code signs in', async () => {
    const { phone } = await customerWithPhone(server);
    await signIn(server, phone);
    // Five addresses, 20 wrong passwords each (their daily share), 5 per lock window.
    for (let a = 1; a <= 5; a++) {
      const guesser = fromAddress(server, `192.0.2.${a}`);
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 5; i++) expectError(await guesser.login(phone, `guess-${a}-${round}-${i}`), 401, 'PORTAL_INVALID_CREDENTIALS');
        await ageFailures(phone, `${server.config.loginLockMs / 60_000} minutes`);
      }
      expectError(await guesser.login(phone, 'one-more-guess'), 429, 'PORTAL_LOGIN_LOCKED');
    }
    // The phone's ceiling: from any address, the right password too, until the oldest failure is a day old.
    const ceiling = await fromAddress(server, holderIp).login(phone);
    expectError(ceiling, 429, 'PORTAL_LOGIN_LOCKED');
    // The oldest failure was aged 20 lock windows by the rounds above; it leaves the day after the rest of it.
    expect(ceiling.body.error.details.retryAfterSeconds).toBeGreaterThan(24 * 3600 - 20 * (server.config.loginLockMs / 1000) - 600);
    const recorded = await sql<{ n: number }>`select count(*)::int n from portal_login_failures where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
    expect(recorded.rows[0]!.n).toBe(100);
    // The holder signs in with a code, which sets a new password and clears the count.
    const token = await signIn(server, phone, 'after-the-storm');
    expect((await asCardholder(server, token, 'GET', '/api/v1/portal/me')).status).toBe(200);
    expect((await fromAddress(server, holderIp).login(phone, 'after-the-storm')).status).toBe(200);
  });

  it('a password sign-in clears only its own address’s failures', async () => {
    const { phone } = await customerWithPhone(server);
    await signIn(server, phone);
    const attacker = fromAddress(server, attackerIp);
    for (let i = 0; i < 4; i++) await attacker.login(phone, `wrong-${i}`);
    expect((await fromAddress(server, holderIp).login(phone)).status).toBe(200);
    // The attacker's fifth wrong password still locks the attacker.
    expectError(await attacker.login(phone, 'wrong-4'), 401, 'PORTAL_INVALID_CREDENTIALS');
    expectError(await attacker.login(phone), 429, 'PORTAL_LOGIN_LOCKED');
  });
});

describe('cardholder and staff sessions are separate', () => {
  it('staff tokens are refused on cardholder routes and cardholder tokens on staff routes', async () => {
    const { phone, id } = await customerWithPhone(server);
    const cardNo = await newCard(server, { customerId: id });
    const token = await signIn(server, phone);
    for (const role of ['admin', 'operator', 'cardholder'] as const) {
      expectError(await server.api('GET', '/api/v1/portal/cards', { role }), 401, 'UNAUTHENTICATED');
      expectError(await server.api('POST', `/api/v1/portal/cards/${cardNo}/report-loss`, { role, body: {} }), 401, 'UNAUTHENTICATED');
    }
    expectError(await server.api('GET', '/api/v1/portal/me', { role: null }), 401, 'UNAUTHENTICATED');
    for (const path of ['/api/v1/auth/me', `/api/v1/cards/${cardNo}`, '/api/v1/customers?limit=1']) {
      expectError(await asCardholder(server, token, 'GET', path), 401, 'UNAUTHENTICATED');
    }
    expectError(await asCardholder(server, token, 'POST', `/api/v1/cards/${cardNo}/report-loss`, {}), 401, 'UNAUTHENTICATED');
  });
});

describe('several customers with one phone', () => {
  it('one sign-in covers the cards of all of them; "me" is the oldest', async () => {
    const phone = newPhone();
    const a = await customerWithPhone(server, phone, '赵一');
    const b = await customerWithPhone(server, phone, '赵二');
    const cardA = await newCard(server, { customerId: a.id });
    const cardB = await newCard(server, { customerId: b.id });
    const token = await signIn(server, phone);
    const me = await asCardholder(server, token, 'GET', '/api/v1/portal/me');
    expect(me.body.customerId).toBe(a.id);
    const cards = await asCardholder(server, token, 'GET', '/api/v1/portal/cards');
    expect(cards.body.items.map((c: { cardNo: string }) => c.cardNo)).toEqual([cardA, cardB]);
  });
});
