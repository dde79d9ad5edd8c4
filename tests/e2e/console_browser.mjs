// Drives the operator console in headless Chromium (Debian's chromium, through puppeteer-core)
// the way an operator does: clicks, typing, a confirmation dialog. console_browser_e2etest.cc
// starts the real server, prepares what a scenario needs, runs this script and checks the
// server's side afterwards.
//
//   node tests/e2e/console_browser.mjs <scenario> <server url> <screenshot dir> [args...]
//
// Exits 0 when every check passed, else 1 with the reason; the last line is `RESULT <json>`.
// Any error the page logs (a script error, a load the CSP refused) fails the run.
import puppeteer from 'puppeteer-core';
import path from 'node:path';

const [scenario, base, shots, ...args] = process.argv.slice(2);
const STEP_MS = 20000;  // the longest one step may take

function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
}

async function text(page, selector) {
  return page.$eval(selector, (e) => e.textContent.trim());
}

// Waits (bounded) until `fn` run in the page returns something truthy, and returns it.
async function until(page, fn, what, ...fnArgs) {
  try {
    const handle = await page.waitForFunction(fn, { timeout: STEP_MS, polling: 100 }, ...fnArgs);
    return handle.jsonValue();
  } catch (e) {
    throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`, { cause: e });
  }
}

async function shot(page, name) {
  const file = path.join(shots, name);
  await page.screenshot({ path: file });
  console.log('screenshot: ' + file);
}

const rowCount = () => document.querySelectorAll('#ticket-list tbody tr[data-ticket-id]').length;

async function lookup(page) {
  const ids = args;
  await until(page, () => document.querySelectorAll('#ticket-list tbody tr[data-ticket-id]').length === 10, 'the first page of 10 tickets');
  check((await text(page, '#page-info')) === 'page 1', 'page 1 is shown');
  check(!(await page.$eval('#page-next', (b) => b.disabled)), 'a next page is offered');
  await page.click('#page-next');
  await until(page, () => document.querySelector('#page-info').textContent === 'page 2', 'page 2');
  const second = await page.evaluate(rowCount);
  check(second === ids.length - 10, `page 2 holds the other ${ids.length - 10} tickets (has ${second})`);
  check(await page.$eval('#page-next', (b) => b.disabled), 'no page after the last');
  await page.click('#page-prev');
  await until(page, () => document.querySelector('#page-info').textContent === 'page 1' &&
    document.querySelectorAll('#ticket-list tbody tr[data-ticket-id]').length === 10, 'back on page 1');

  // An id that is no UUID: the service's error, at the field.
  await page.type('#lookup-id', 'not-a-ticket');
  await page.click('#lookup-form button[type=submit]');
  await until(page, () => document.querySelector('#lookup-id').getAttribute('aria-invalid') === 'true', 'the id field marked invalid');
  const bad = await text(page, '#lookup-id-error');
  check(/uuid/i.test(bad), `the field says what is wrong with the id: "${bad}"`);
  check(await page.$eval('#ticket-detail', (e) => e.hidden), 'no ticket is shown');

  // A well-formed id of no ticket: not found, at the field too.
  await page.$eval('#lookup-id', (e) => { e.value = ''; });
  await page.type('#lookup-id', '00000000-0000-4000-8000-00000000dead');
  await page.click('#lookup-form button[type=submit]');
  await until(page, () => /No ticket/.test(document.querySelector('#lookup-id-error').textContent), 'not found, at the field');

  // A real one: its fields and its whole history.
  const wanted = ids[3];
  await page.$eval('#lookup-id', (e) => { e.value = ''; });
  await page.type('#lookup-id', wanted);
  await page.click('#lookup-form button[type=submit]');
  await until(page, (id) => !document.querySelector('#ticket-detail').hidden &&
    document.querySelector('#detail-title').textContent.includes(id), 'the ticket shown', wanted);
  check((await page.$eval('#lookup-id', (e) => e.getAttribute('aria-invalid'))) === null, 'the field is no longer marked');
  const fields = await text(page, '#detail-fields');
  check(fields.includes('guest-3@example.com') && fields.includes('confirmed'), `its fields: ${fields}`);
  const kinds = await until(page, () => {
    const k = [...document.querySelectorAll('#history li')].map((li) => li.dataset.kind);
    return ['ACCEPTED', 'STORED', 'RECEIPT_ISSUED'].every((x) => k.includes(x)) && k;
  }, 'the history with accepted, stored and receipt');
  check(await page.$eval('#ticket-browser', (e) => e.hidden), 'the list gives way to the ticket');
  // Closed, the list is back; a row of it opens its ticket as well.
  await page.click('#detail-close');
  await until(page, () => !document.querySelector('#ticket-browser').hidden && document.querySelector('#ticket-detail').hidden, 'the list again');
  await page.click(`#ticket-list tbody tr[data-ticket-id="${ids[0]}"]`);
  await until(page, (id) => document.querySelector('#detail-title').textContent.includes(id), 'the clicked ticket', ids[0]);
  await until(page, () => document.querySelectorAll('#history li[data-kind]').length >= 4, "the clicked ticket's history");
  const selected = await page.$$eval('#ticket-list tbody tr.selected', (rows) => rows.map((r) => r.dataset.ticketId));
  check(selected.length === 1 && selected[0] === ids[0], `only the open ticket is marked in the list: ${selected}`);
  await shot(page, 'console-ticket.png');
  return { history: kinds };
}

async function cancel(page) {
  const [id] = args;
  await page.type('#lookup-id', id);
  await page.click('#lookup-form button[type=submit]');
  await until(page, () => !document.querySelector('#ticket-detail').hidden, 'the ticket shown');
  check(!(await page.$eval('#cancel-ticket', (b) => b.disabled)), 'a confirmed ticket can be canceled');

  // Asked, then kept: nothing is sent.
  await page.click('#cancel-ticket');
  await until(page, () => document.querySelector('#confirm-cancel').open, 'the confirmation');
  const question = await text(page, '#confirm-text');
  check(question.includes(id) && question.includes('ann@example.com'), `the dialog names the ticket: ${question}`);
  await shot(page, 'console-cancel.png');
  await page.click('#confirm-keep');
  await until(page, () => !document.querySelector('#confirm-cancel').open, 'the dialog closed');
  check((await text(page, '#detail-fields dd.status')) === 'confirmed', 'kept: still confirmed');

  // Asked and confirmed.
  await page.click('#cancel-ticket');
  await until(page, () => document.querySelector('#confirm-cancel').open, 'the confirmation again');
  await page.click('#confirm-yes');
  await until(page, () => document.querySelector('#detail-msg').classList.contains('ok'), 'the cancel accepted');
  await until(page, () => document.querySelector('#detail-fields dd.status').textContent === 'canceled', 'the status canceled');
  await until(page, () => [...document.querySelectorAll('#history li')].some((li) => li.dataset.kind === 'CANCELED'), 'the CANCELED step in the history');
  check(await page.$eval('#cancel-ticket', (b) => b.disabled), 'a canceled ticket cannot be canceled again');
  return {};
}

async function deadLetters(page) {
  const [total, receipts] = args.map(Number);
  await until(page, (n) => document.querySelector('#dl-title').textContent === `Dead letters (${n})`, `all ${total} dead letters listed`, total);
  await until(page, () => [...document.querySelectorAll('#dl-handler option')].some((o) => o.value === 'IssueReceipt'), 'the handlers to filter by');
  await page.select('#dl-handler', 'IssueReceipt');
  await page.type('#dl-reason', 'REFUSED');
  await page.click('#dl-dry-run');
  await until(page, (n) => document.querySelector('#dl-msg').textContent.startsWith(`Dry run: ${n} dead letter`), `a dry run counting ${receipts}`, receipts);
  check((await text(page, '#dl-retry')) === `Retry ${receipts} matching`, 'the retry button says how many');
  check(!(await page.$eval('#dl-retry', (b) => b.disabled)), 'the retry is offered after the count');
  await until(page, (n) => document.querySelectorAll('#dl-list li.dl').length === n, 'the list narrowed to the matches', receipts);
  await shot(page, 'console-dead-letters.png');

  // Any change to the filter withdraws the count.
  await page.type('#dl-reason', 'x');
  check(await page.$eval('#dl-retry', (b) => b.disabled), 'a changed filter needs a new count');
  await page.keyboard.press('Backspace');

  // A time range that ends before it starts: the service's error, at the field it names.
  await page.$eval('#dl-after', (e) => { e.value = '2026-01-02T00:00:00'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.$eval('#dl-before', (e) => { e.value = '2026-01-01T00:00:00'; e.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('#dl-dry-run');
  await until(page, () => document.querySelector('#dl-before').getAttribute('aria-invalid') === 'true', 'the end of the range marked invalid');
  const why = await text(page, '#dl-before-error');
  check(/after/.test(why), `the field says why: "${why}"`);
  check(await page.$eval('#dl-retry', (b) => b.disabled), 'no retry after a refused count');
  await page.$eval('#dl-after', (e) => { e.value = ''; });
  await page.$eval('#dl-before', (e) => { e.value = ''; e.dispatchEvent(new Event('input', { bubbles: true })); });

  await page.click('#dl-dry-run');
  await until(page, () => !document.querySelector('#dl-retry').disabled, 'the count again');
  check((await page.$eval('#dl-before', (e) => e.getAttribute('aria-invalid'))) === null, 'the field error cleared');
  await page.click('#dl-retry');
  await until(page, (n) => document.querySelector('#dl-msg').textContent === `Sent back for another try: ${n}.`, `${receipts} sent back`, receipts);
  // The rest (another handler's) stays.
  await page.select('#dl-handler', '');
  await page.$eval('#dl-reason', (e) => { e.value = ''; });
  await page.click('#dl-show');
  await until(page, (n) => document.querySelector('#dl-title').textContent === `Dead letters (${n})`, 'the others left', total - receipts);
  return {};
}

async function chart(page) {
  // Under load the handled/s line rises above zero and moves from one poll to the next.
  await until(page, () => document.querySelectorAll('#handlers tbody tr[data-handler]').length >= 3, 'the handlers table');
  const first = await until(page, () => {
    const p = document.querySelector('#chart-rate-line');
    return p && p.getAttribute('points').split(' ').length >= 2 && p.getAttribute('points');
  }, 'a first stretch of the chart');
  const rate = await until(page, () => Number(document.querySelector('#chart-rate').textContent.replace(/,/g, '')) > 0 &&
    document.querySelector('#chart-rate').textContent, 'a rate above zero');
  const later = await until(page, (before) => {
    const p = document.querySelector('#chart-rate-line').getAttribute('points');
    return p !== before && p.split(' ').length >= 3 && p;
  }, 'the chart moving', first);
  const handlers = await page.$$eval('#handlers tbody tr[data-handler]', (rows) => rows.map((r) => r.dataset.handler));
  check(handlers.includes('StoreTickets') && handlers.includes('IssueReceipt'), `handlers listed: ${handlers}`);
  // The ticket the receipts API refuses: parked, with the API's answer as the last error.
  const receipt = await until(page, () => {
    const row = document.querySelector('#handlers tr[data-handler="IssueReceipt"]');
    return row && row.cells[4].textContent.startsWith('1 ') && /HTTP 500/.test(row.cells[7].textContent) &&
      [...row.cells].map((c) => c.textContent);
  }, 'IssueReceipt with one parked event and its error');
  await until(page, () => document.querySelector('#dl-title').textContent === 'Dead letters (1)', 'the tracker\'s dead letter');
  await shot(page, 'console-overview.png');
  // A reload keeps the chart: its samples are in the tab's session storage.
  const kept = later.split(' ').length;
  await page.reload({ waitUntil: 'load' });
  const after = await until(page, () => {
    const p = document.querySelector('#chart-rate-line');
    return p && p.getAttribute('points').split(' ').length;
  }, 'the chart after a reload');
  check(after >= kept, `the reload kept the chart (${after} points, had ${kept})`);
  return { rate, points: after, handlers, receipt };
}

const scenarios = { lookup, cancel, 'dead-letters': deadLetters, chart };

async function main() {
  const run = scenarios[scenario];
  if (!run) throw new Error('no such scenario: ' + scenario);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // The sandbox needs user namespaces, which containers (and root) lack; the browser opens
    // only this test's own server.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--window-size=1280,800'],
    defaultViewport: { width: 1280, height: 800 },
    timeout: STEP_MS,
  });
  const problems = [];
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(STEP_MS);
    // Chromium logs every 4xx answer as "Failed to load resource": the scenarios provoke
    // those on purpose. Anything else (a script error, a load the CSP refused) is a failure.
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push('console: ' + m.text());
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    await page.goto(base + '/', { waitUntil: 'load' });
    const result = await run(page);
    check(problems.length === 0, 'the page logged no error: ' + problems.join(' | '));
    console.log('RESULT ' + JSON.stringify(Object.assign({ ok: true }, result)));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.log('RESULT ' + JSON.stringify({ ok: false, error: String(e.message || e) }));
  process.exit(1);
});
