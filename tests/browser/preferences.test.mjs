// The preferences page in a real browser: headless Chromium (Debian's /usr/bin/chromium)
// driven through playwright-core, checked with axe-core.
//
// Builds nothing: it runs the host binary named by PRIVACY_GUARD_BIN (default: the debug
// build, ../../target/debug/privacy-guard from this file). `scripts/browser-tests.sh`
// installs what is missing, builds the binary and runs this file.
//
// With the CLI at a fixed clock, in a temporary data folder, it configures an
// organisation, a custom consent (`news`) and a data consent, imports four people whose
// `language` is en, de, fr and es, runs the daily consent run after its scheduled time,
// then serves the pages on a free port and reads each person's link from the request
// mail in the outbox. For each person it checks the page's language and heading, saves a
// full-page screenshot to artifacts/, requires zero axe-core violations, agrees to `news`
// with the keyboard only (the focus visible on the radio button and the save button),
// and checks the saved state on the page and through `privacy-guard show`.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import axe from 'axe-core';
import { chromium } from 'playwright-core';

const run = promisify(execFile);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, process.env.PRIVACY_GUARD_BIN || '../../target/debug/privacy-guard');
const CHROMIUM = process.env.PRIVACY_GUARD_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(HERE, 'artifacts');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// The host's clock, fixed: consents are enabled before the daily run's scheduled time
// (10:00 UTC), the run happens after it, and the server starts a minute later.
const SETUP_NOW = '2026-03-02T08:00:00Z';
const RUN_NOW = '2026-03-02T10:30:00Z';
const SERVE_NOW = '2026-03-02T10:31:00Z';

const CONSENT = 'news';

const PEOPLE = [
  { lang: 'en', name: 'Ada Lovelace', email: 'ada@example.com', heading: 'Your privacy preferences',
    newsletter: 'Our newsletter', purpose: 'We send you our newsletter by email, at most twice a month.' },
  { lang: 'de', name: 'Karl Weber', email: 'karl@example.de', heading: 'Ihre Datenschutzeinstellungen',
    newsletter: 'Unser Newsletter', purpose: 'Wir senden Ihnen höchstens zweimal im Monat unseren Newsletter per E-Mail.' },
  { lang: 'fr', name: 'Amélie Martin', email: 'amelie@example.fr', heading: 'Vos préférences de confidentialité',
    newsletter: 'Notre lettre d’information', purpose: 'Nous vous envoyons notre lettre d’information par e-mail, deux fois par mois au plus.' },
  { lang: 'es', name: 'Lucía García', email: 'lucia@example.es', heading: 'Sus preferencias de privacidad',
    newsletter: 'Nuestro boletín', purpose: 'Le enviamos nuestro boletín por correo electrónico, como máximo dos veces al mes.' },
];

// Everything the host reads from PRIVACY_GUARD_* comes from here, not from the caller's
// environment (a database URL, an SMTP server or a tenant file there would change the run).
function hostEnv(dataDir, now) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PRIVACY_GUARD_')) env[key] = value;
  }
  return {
    ...env,
    PRIVACY_GUARD_DATA_DIR: dataDir,
    PRIVACY_GUARD_NOW: now,
    PRIVACY_GUARD_RUN_AT: '10:00',
    PRIVACY_GUARD_TIME_ZONE: 'UTC',
    PRIVACY_GUARD_ACTOR: 'browser-test',
  };
}

async function cli(dataDir, now, ...args) {
  try {
    const { stdout } = await run(BIN, args, { env: hostEnv(dataDir, now), maxBuffer: 16 << 20 });
    return stdout;
  } catch (error) {
    throw new Error(
      `privacy-guard ${args.join(' ')} failed (exit ${error.code}):\n${error.stdout}${error.stderr}`,
    );
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// --- reading the request mails (.eml files in DATA_DIR/outbox) ---------------------------

function splitHeaders(text) {
  const at = text.search(/\r?\n\r?\n/);
  const head = at < 0 ? text : text.slice(0, at);
  const body = at < 0 ? '' : text.slice(at).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decodeBody(headers, body) {
  const encoding = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = Buffer.from(body.replace(/=\r?\n/g, ''), 'latin1').toString('latin1');
    return Buffer.from(
      bytes.replace(/=([0-9A-Fa-f]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  return body;
}

// The decoded text/plain part of a mail (multipart or not).
function textBody(raw) {
  const { headers, body } = splitHeaders(raw);
  const type = headers['content-type'] || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type);
  if (!/^multipart\//i.test(type) || !boundary) {
    return /^text\/plain/i.test(type) ? decodeBody(headers, body) : null;
  }
  for (const part of body.split(`--${boundary[1]}`).slice(1)) {
    if (part.startsWith('--')) break;
    const found = textBody(part.replace(/^\r?\n/, ''));
    if (found !== null) return found;
  }
  return null;
}

async function linksFromOutbox(outbox, preferencesUrl) {
  const linkPattern = new RegExp(`${preferencesUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[A-Za-z0-9._~-]+`);
  const links = new Map();
  for (const file of (await fs.readdir(outbox)).filter((name) => name.endsWith('.eml')).sort()) {
    const raw = await fs.readFile(path.join(outbox, file), 'utf8');
    const { headers } = splitHeaders(raw);
    const to = /<([^>]+)>/.exec(headers.to || '')?.[1] ?? (headers.to || '').trim();
    const text = textBody(raw);
    const link = text && linkPattern.exec(text)?.[0];
    if (!link) continue;
    assert.ok(!links.has(to), `more than one request mail with a link to ${to}`);
    links.set(to, link);
  }
  return links;
}

// --- the browser side --------------------------------------------------------------------

async function axeViolations(page) {
  // Evaluated through the DevTools protocol, so the page's CSP (no scripts) does not stop it.
  await page.evaluate(axe.source);
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations;
}

function describeViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `    at ${n.target.join(' ')}\n      ${n.html}\n      ${(n.failureSummary || '').replace(/\n/g, '\n      ')}`)
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

async function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    return {
      tag: el.tagName.toLowerCase(),
      type: el.getAttribute('type'),
      name: el.getAttribute('name'),
      value: el.getAttribute('value'),
      checked: el.checked === true,
      focusVisible: el.matches(':focus-visible'),
      outlineStyle: style.outlineStyle,
      outlineWidth: style.outlineWidth,
      outlineColor: style.outlineColor,
      boxShadow: style.boxShadow,
    };
  });
}

const isConsentRadio = (f) => f?.tag === 'input' && f.type === 'radio' && f.name === CONSENT;
const isSaveButton = (f) => f?.tag === 'button' && (f.type === null || f.type === 'submit') && f.name === null;

// Presses Tab (or Shift+Tab) until the focused element satisfies `wanted`.
async function tabUntil(page, wanted, what, { key = 'Tab', limit = 40 } = {}) {
  const seen = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press(key);
    const now = await focused(page);
    if (wanted(now)) return now;
    seen.push(now ? `${now.tag}${now.type ? `[type=${now.type}]` : ''}${now.name ? `[name=${now.name}]` : ''}` : 'body');
  }
  assert.fail(`${key} never reached ${what}; focus went through: ${seen.join(', ')}`);
}

function focusStyleVisible(f) {
  const outline =
    f.outlineStyle !== 'none' &&
    parseFloat(f.outlineWidth) > 0 &&
    !/^rgba\(.*,\s*0\)$/.test(f.outlineColor) &&
    f.outlineColor !== 'transparent';
  return f.focusVisible && (outline || (f.boxShadow && f.boxShadow !== 'none'));
}

// A screenshot of the element's surroundings (where an outline or ring would be drawn).
async function around(page, selector) {
  const box = await page.locator(selector).boundingBox();
  assert.ok(box, `${selector} is not on screen`);
  const pad = 6;
  const clip = { x: Math.max(0, box.x - pad), y: Math.max(0, box.y - pad), width: box.width + 2 * pad, height: box.height + 2 * pad };
  return () => page.screenshot({ clip });
}

// --- the tests ---------------------------------------------------------------------------

describe('the preferences page in headless Chromium', { timeout: 300_000 }, () => {
  let workDir;
  let dataDir;
  let port;
  let preferencesUrl;
  let server;
  let serverExit;
  let serverLog;
  let context;
  let links;
  const records = new Map();

  const killServer = () => {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
  };
  // The hooks below stop the server; these cover a test process that is interrupted.
  process.on('exit', killServer);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killServer();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
      process.exit(128 + os.constants.signals[signal]);
    });
  }

  before(async () => {
    const started = Date.now();
    await fs.access(BIN).catch(() => {
      throw new Error(`no host binary at ${BIN}: build it (cargo build --locked -p privacy-guard-host --bin privacy-guard) or set PRIVACY_GUARD_BIN`);
    });
    await fs.rm(ARTIFACTS, { recursive: true, force: true });
    await fs.mkdir(ARTIFACTS, { recursive: true });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'privacy-guard-browser-'));
    dataDir = path.join(workDir, 'data');
    port = await freePort();
    preferencesUrl = `http://127.0.0.1:${port}/preferences/`;

    // Page languages: each person's from the `language` field of their record.
    const languageFlags = ['--language-field', 'language', '--default-language', 'en'];

    await cli(dataDir, SETUP_NOW, 'settings',
      '--sender-address', 'privacy@example.org',
      '--sender-name', 'Example Privacy',
      '--organisation', 'Example Ltd',
      '--postal-address', '1 Example Street, 10115 Berlin',
      '--preferences-url', preferencesUrl,
      ...languageFlags);
    // The newsletter is translated into every language; the phone consent is not, so its
    // English text stands on the other pages, marked as English.
    await cli(dataDir, SETUP_NOW, 'consent', 'add', '--id', CONSENT, '--kind', 'custom',
      '--title', 'Our newsletter',
      '--purpose', 'We send you our newsletter by email, at most twice a month.',
      ...PEOPLE.filter((person) => person.lang !== 'en').flatMap((person) => [
        '--translation', `${person.lang}|${person.newsletter}|${person.purpose}`,
      ]));
    await cli(dataDir, SETUP_NOW, 'consent', 'add', '--id', 'phone-data', '--kind', 'data:phone',
      '--title', 'Your phone number',
      '--purpose', 'We keep your phone number to call you about your orders.');
    await cli(dataDir, SETUP_NOW, 'enable', '--confirm-deduplication');

    const csv = path.join(workDir, 'people.csv');
    await fs.writeFile(csv, ['name,email,language,phone',
      ...PEOPLE.map((p, i) => `${p.name},${p.email},${p.lang},+49 30 555 010${i}`)].join('\n') + '\n');
    await cli(dataDir, SETUP_NOW, 'import', csv);
    for (let id = 1; id <= PEOPLE.length; id++) {
      const shown = await cli(dataDir, SETUP_NOW, 'show', `contacts/${id}`);
      const email = /^contacts\/\d+ <([^>]+)>/m.exec(shown)?.[1];
      records.set(email, `contacts/${id}`);
    }
    for (const p of PEOPLE) assert.ok(records.has(p.email), `no contact record for ${p.email}`);

    console.log((await cli(dataDir, RUN_NOW, 'run-daily')).trim());
    links = await linksFromOutbox(path.join(dataDir, 'outbox'), preferencesUrl);
    assert.deepEqual([...links.keys()].sort(), PEOPLE.map((p) => p.email).sort(), 'one request mail with a link per person');

    serverLog = createWriteStream(path.join(ARTIFACTS, 'serve.log'));
    server = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`], {
      env: hostEnv(dataDir, SERVE_NOW),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout.pipe(serverLog, { end: false });
    server.stderr.pipe(serverLog, { end: false });
    serverExit = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
    let exited = null;
    serverExit.then((status) => { exited = status; });
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited) throw new Error(`privacy-guard serve exited early (${JSON.stringify(exited)}); see ${path.join(ARTIFACTS, 'serve.log')}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`privacy-guard serve did not answer /health within 60 s; see ${path.join(ARTIFACTS, 'serve.log')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    context = await chromium.launchPersistentContext(path.join(workDir, 'chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1024, height: 768 },
      acceptDownloads: false,
      serviceWorkers: 'block',
    });
    console.log(`set-up took ${((Date.now() - started) / 1000).toFixed(1)} s (data in ${dataDir}, server on port ${port})`);
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGTERM');
      let timer;
      const stopped = await Promise.race([
        serverExit,
        new Promise((resolve) => { timer = setTimeout(() => resolve(null), 10_000); }),
      ]);
      clearTimeout(timer);
      if (!stopped) {
        server.kill('SIGKILL');
        await serverExit;
      }
    }
    serverLog?.end();
    if (workDir && !process.env.PRIVACY_GUARD_KEEP_BROWSER_DATA) {
      await fs.rm(workDir, { recursive: true, force: true });
    }
  });

  for (const person of PEOPLE) {
    describe(`${person.lang}: ${person.name}`, () => {
      let page;

      before(async () => {
        page = await context.newPage();
        const response = await page.goto(links.get(person.email), { waitUntil: 'load' });
        assert.equal(response.status(), 200, `the link opens the page (${response.status()})`);
        await page.screenshot({ path: path.join(ARTIFACTS, `preferences-${person.lang}.png`), fullPage: true });
      });

      after(async () => {
        await page?.close().catch(() => {});
      });

      it(`is in ${person.lang}, with the heading "${person.heading}"`, async () => {
        const lang = await page.evaluate(() => document.documentElement.getAttribute('lang'));
        const headings = await page.locator('h1').allTextContents();
        assert.deepEqual(
          { lang: (lang || '').toLowerCase().split('-')[0], h1: headings.map((h) => h.trim()) },
          { lang: person.lang, h1: [person.heading] },
        );
      });

      it('shows each consent in the person\'s language where it is translated, and marks the rest', async () => {
        const legends = await page.locator('legend').evaluateAll((nodes) =>
          nodes.map((node) => ({ text: node.textContent.trim(), lang: node.getAttribute('lang') })));
        const untranslated = person.lang === 'en' ? null : 'en';
        assert.deepEqual(legends, [
          { text: person.newsletter, lang: null },
          { text: 'Your phone number', lang: untranslated },
        ]);
        assert.ok((await page.content()).includes(person.purpose), 'the translated purpose is shown');
      });

      it('has no axe-core violations', async () => {
        const violations = await axeViolations(page);
        assert.equal(violations.length, 0, `axe-core found ${violations.length} violation(s):\n${describeViolations(violations)}`);
      });

      it(`agrees to "${CONSENT}" with the keyboard only, the focus visible, and the choice is saved`, async (t) => {
        const radio = `input[type=radio][name="${CONSENT}"][value="grant"]`;
        const button = 'form button[type=submit]';
        const waiting = await page.locator(`#consent-${CONSENT} [data-value]`).getAttribute('data-value');
        assert.notEqual(waiting, 'granted', 'the consent is not granted before the test agrees');

        // Tab into the consent's radio group; arrows move through it (and choose), Space chooses.
        let now = await tabUntil(page, isConsentRadio, `a radio button of "${CONSENT}"`);
        if (now.value !== 'grant') {
          await page.keyboard.press('ArrowUp');
          now = await focused(page);
        }
        assert.equal(now.value, 'grant', 'the first radio button of the group is "agree"');
        await page.keyboard.press('ArrowDown');
        now = await focused(page);
        assert.ok(now.value === 'refuse' && now.checked, `ArrowDown moves to "I do not agree" and chooses it (${JSON.stringify(now)})`);
        await page.keyboard.press('ArrowUp');
        await page.keyboard.press('Space');
        now = await focused(page);
        assert.ok(now.value === 'grant' && now.checked, `ArrowUp and Space choose "I agree" (${JSON.stringify(now)})`);
        assert.ok(await page.locator(radio).isChecked(), '"I agree" is checked');

        assert.ok(focusStyleVisible(now), `the focused radio button shows a focus style: ${JSON.stringify(now)}`);
        t.diagnostic(`focused radio button: outline ${now.outlineStyle} ${now.outlineWidth} ${now.outlineColor}, box-shadow ${now.boxShadow}`);
        const radioShot = await around(page, radio);
        const radioFocused = await radioShot();
        now = await tabUntil(page, (f) => !isConsentRadio(f), 'the next control');
        assert.ok(!radioFocused.equals(await radioShot()), 'the radio button looks different with the focus than without');
        assert.ok(await page.locator(radio).isChecked(), '"I agree" stays checked when the focus leaves');

        now = await tabUntil(page, isSaveButton, 'the save button');
        assert.ok(focusStyleVisible(now), `the focused save button shows a focus style: ${JSON.stringify(now)}`);
        t.diagnostic(`focused save button: outline ${now.outlineStyle} ${now.outlineWidth} ${now.outlineColor}, box-shadow ${now.boxShadow}`);
        const buttonShot = await around(page, button);
        const buttonFocused = await buttonShot();
        await page.keyboard.press('Shift+Tab');
        assert.ok(!isSaveButton(await focused(page)), 'Shift+Tab leaves the save button');
        assert.ok(!buttonFocused.equals(await buttonShot()), 'the save button looks different with the focus than without');
        await tabUntil(page, isSaveButton, 'the save button again');

        const posted = page.waitForResponse((r) => r.request().method() === 'POST');
        await page.keyboard.press('Enter');
        const response = await posted;
        assert.ok(response.status() < 400, `saving answers ${response.status()}`);
        await page.waitForLoadState('load');
        await page.waitForSelector(`#consent-${CONSENT} [data-value="granted"]`, { timeout: 10_000 });
        assert.ok(await page.locator(radio).isChecked(), 'the saved page shows "I agree" chosen');
        await page.screenshot({ path: path.join(ARTIFACTS, `preferences-${person.lang}-saved.png`), fullPage: true });

        const shown = await cli(dataDir, SERVE_NOW, 'show', records.get(person.email));
        for (const line of shown.trim().split('\n')) t.diagnostic(line.replace(/\t/g, ' '));
        const value = new RegExp(`^\\s*${CONSENT}\\s+(\\S+)`, 'm').exec(shown)?.[1];
        assert.equal(value, 'granted', `privacy-guard show ${records.get(person.email)}:\n${shown}`);
        assert.match(shown, new RegExp(`^\\s*phone-data\\s+waiting`, 'm'), 'the consent the form did not answer is unchanged');
      });

      it('has no axe-core violations after saving', async () => {
        const violations = await axeViolations(page);
        assert.equal(violations.length, 0, `axe-core found ${violations.length} violation(s):\n${describeViolations(violations)}`);
      });
    });
  }
});
