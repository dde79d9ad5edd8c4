#include "console/console_page.h"

namespace booking::console {
namespace {

// Embedded in the binary rather than read from disk: the console works wherever the server runs
// (no asset directory to deploy or to get out of step with the API), and the page has no build
// step and loads nothing from other hosts.
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Booking service · box office</title>
<link rel="icon" href="data:,">
<style>
:root { --bg: #f3f5f8; --panel: #fff; --ink: #18202b; --muted: #5a6472; --line: #dce2e9;
  --accent: #1d5fc4; --ok: #146c37; --warn: #8a5a00; --bad: #b3261e; color-scheme: light; }
* { box-sizing: border-box; } ul { list-style: none; margin: 0; padding: 0; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 24px; background: #15233f; color: #fff; }
h1 { margin: 0; font-size: 19px; font-weight: 650; white-space: nowrap; }
h1 small { margin-left: 8px; font-size: 14px; font-weight: 400; opacity: .75; } h2 { margin: 0; font-size: 16px; font-weight: 650; }
.pill { display: inline-flex; align-items: center; gap: 7px; padding: 3px 11px; border-radius: 99px; background: rgba(255,255,255,.12); font-size: 13px; white-space: nowrap; }
.pill::before { content: ""; width: 9px; height: 9px; border-radius: 50%; background: #9aa4b2; }
.pill.live::before { background: #3ddc84; } .pill.retry::before { background: #f5b83d; } .pill.down::before { background: #ff6b5e; }
#token-form { margin-left: auto; display: flex; gap: 6px; align-items: center; } #token-form label { color: #c9d2e3; }
#token-form input { width: 200px; border-color: #3a4a6b; background: #0f1a30; color: #fff; }
#token-form.attention input { outline: 2px solid #f5b83d; }
main { display: grid; grid-template-columns: minmax(360px, 440px) 1fr; gap: 20px; padding: 18px 24px; max-width: 1440px; margin: 0 auto; }
.col { display: flex; flex-direction: column; gap: 18px; min-width: 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; }
.bar { display: flex; align-items: center; gap: 8px; margin-bottom: 12px; } .bar h2 { margin-right: auto; }
.hint { margin: -6px 0 12px; color: var(--muted); font-size: 13px; }
label { display: block; font-size: 13px; color: var(--muted); }
.fields { display: grid; grid-template-columns: 1fr 90px 70px; gap: 8px; margin-bottom: 12px; }
input, button { font: inherit; color: var(--ink); border: 1px solid #c3ccd7; border-radius: 6px; background: #fff; }
input { width: 100%; margin-top: 3px; padding: 6px 8px; }
button { padding: 6px 13px; font-size: 14px; font-weight: 550; cursor: pointer; }
button:hover { background: #eef2f7; } button:disabled { opacity: .55; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; } button.primary:hover { background: #174ea3; }
header button { border-color: #3a4a6b; background: #22335a; color: #fff; padding: 5px 10px; } header button:hover { background: #2d4273; }
.msg { margin: 10px 0 0; padding: 7px 10px; border-radius: 6px; font-size: 14px; overflow-wrap: anywhere; }
.msg.info { background: #eef3fb; color: #24446f; } .msg.ok { background: #e8f5ec; color: var(--ok); }
.msg.error { background: #fdecea; color: var(--bad); } #notice { margin: 14px 24px 0; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
.dl { display: flex; align-items: flex-start; gap: 10px; padding: 10px 0; border-top: 1px solid var(--line); }
.dl:first-child { border-top: 0; } .dl > div { flex: 1; min-width: 0; } .dl b { margin-right: 6px; }
.dl .why { color: var(--bad); overflow-wrap: anywhere; } .sub { color: var(--muted); font-size: 13px; }
.empty { color: var(--muted); padding: 14px 0; text-align: center; }
#tickets { display: flex; flex-direction: column; gap: 10px; max-height: calc(100vh - 150px); overflow: auto; }
.ticket { border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 8px; padding: 10px 14px; }
.ticket.dead { border-left-color: var(--bad); background: #fffafa; } .ticket.canceled { border-left-color: #8792a2; }
.head { display: flex; align-items: center; gap: 10px; } .head time { margin-left: auto; color: var(--muted); font-size: 13px; white-space: nowrap; }
.badge { padding: 1px 8px; border-radius: 99px; font-size: 12px; font-weight: 600; background: #e6edf8; color: #24446f; }
.badge.confirmed { background: #e3f4e8; color: var(--ok); } .badge.canceled { background: #eceef1; color: #3c4654; }
.meta { color: var(--muted); font-size: 13px; margin: 2px 0 8px; } .chips { display: flex; flex-wrap: wrap; gap: 6px; }
.chip { padding: 2px 10px; border-radius: 99px; font-size: 13px; border: 1px solid; }
.k-accepted { background: #f0f3f7; border-color: #cbd3dd; color: #303a48; }
.k-stored { background: #e7f5ec; border-color: #a9d8b8; color: #115c2e; }
.k-receipt_issued { background: #e8f0fc; border-color: #a9c3ee; color: #1a4a94; }
.k-appended_to_tracker { background: #f1ebfb; border-color: #cbb6ee; color: #51308f; }
.k-canceled { background: #fff4e0; border-color: #efcd8c; color: var(--warn); }
.k-dead_lettered { background: #fdecea; border-color: #f1aaa4; color: var(--bad); font-weight: 600; }
.k-handled, .k-kind_unspecified { background: #f6f7f9; border-color: #d5dae1; color: #4a5463; }
</style>
</head>
<body>
<header>
  <h1>Booking service<small>box office</small></h1>
  <span id="conn" class="pill" role="status">connecting…</span>
  <form id="token-form" autocomplete="off">
    <label for="token">Bearer token</label>
    <input id="token" type="password" placeholder="only if the service asks" autocomplete="off" spellcheck="false">
    <button type="submit">Save</button><button type="button" id="token-clear">Clear</button>
  </form>
</header>
<p id="notice" class="msg error" role="alert" hidden></p>
<main>
  <div class="col">
    <section class="panel" aria-labelledby="send-title">
      <div class="bar"><h2 id="send-title">Send a sample ticket</h2></div>
      <p class="hint">A new ticket id for each confirmation; “Send canceled” cancels the last ticket sent.</p>
      <div class="fields">
        <label>Customer email<input id="email" type="email" value="ann@example.com"></label>
        <label>Amount<input id="amount" value="49.90" inputmode="decimal"></label>
        <label>Currency<input id="currency" value="EUR" maxlength="3"></label>
      </div>
      <div class="bar"><button class="primary" id="send-confirmed">Send confirmed</button>
        <button id="send-canceled">Send canceled</button></div>
      <p id="send-msg" class="msg" hidden></p>
    </section>
    <section class="panel" aria-labelledby="dl-title">
      <div class="bar"><h2 id="dl-title">Dead letters</h2>
        <button id="dl-refresh">Refresh</button><button id="dl-retry-all">Retry all</button></div>
      <ul id="dl-list"></ul>
      <p id="dl-msg" class="msg" hidden></p>
    </section>
  </div>
  <section class="panel" aria-labelledby="live-title">
    <div class="bar"><h2 id="live-title">Live steps</h2></div>
    <p class="hint">Every ticket from the moment this page opened, newest first.</p>
    <p id="watch-msg" class="msg" hidden></p>
    <div id="tickets" aria-live="polite"><p id="no-tickets" class="empty">No ticket yet: send one, or wait for the box office.</p></div>
  </section>
</main>
<script>
'use strict';
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const TOKEN_KEY = 'booking.console.token';
let token = sessionStorage.getItem(TOKEN_KEY) || '';

function el(tag, cls, text) {  // text through textContent only: nothing from the service is parsed as HTML
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function show(node, text, kind) { node.textContent = text; node.className = 'msg ' + kind; node.hidden = !text; }
// Version 4 UUID from getRandomValues (crypto.randomUUID needs a secure context).
function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const headers = (extra) => Object.assign(token ? { Authorization: 'Bearer ' + token } : {}, extra);
const apiError = (status, message, retryAfter = 0) => Object.assign(new Error(message), { status, retryAfter });
// The service's error ({"code","message","details"}) as one line; 401/403 ask for a token.
async function failure(res, scope) {
  const text = await res.text().catch(() => '');
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON: show the text */ }
  let msg = (json && json.message) || text.slice(0, 300) || res.statusText || 'no details';
  const fields = [];
  for (const d of (json && Array.isArray(json.details) && json.details) || []) {
    for (const f of d.fieldViolations || d.field_violations || []) {
      if (!msg.includes(f.description)) fields.push(`${f.field}: ${f.description}`);
    }
  }
  if (fields.length) msg += ' (' + fields.join('; ') + ')';
  if (res.status === 401 || res.status === 403) {
    const what = res.status === 403 ? 'This token lacks the scope' : token ? 'The token was not accepted' : 'A bearer token is needed';
    msg = `${what}: enter a token with the “${scope}” scope above (${msg})`;
    if (res.status === 401) show($('notice'), 'The service asks for a bearer token: enter one above.', 'error');
    $('token-form').classList.add('attention');
  } else if (res.status === 429 || res.status === 503) {
    msg = 'The service is busy, try again shortly: ' + msg;
  }
  return apiError(res.status, `HTTP ${res.status}: ${msg}`, Number(res.headers.get('Retry-After')) || 0);
}
async function api(method, path, body, scope) {
  let res;
  try {
    res = await fetch(path, { method, cache: 'no-store', body: body ? JSON.stringify(body) : undefined,
                              headers: headers(body ? { 'Content-Type': 'application/json' } : {}) });
  } catch (e) {
    throw apiError(0, 'Cannot reach the service: ' + e.message);
  }
  if (!res.ok) throw await failure(res, scope);
  try { return await res.json(); } catch (e) { throw apiError(res.status, 'The answer is not JSON'); }
}

// --- Live steps ---------------------------------------------------------------------------
const cards = new Map();  // ticket id -> {root, badge, time, meta, chips, seen, kinds}
function card(id) {
  let c = cards.get(id);
  if (c) return c;
  const [root, head, badge, time, meta, chips] =
    [el('article', 'ticket'), el('div', 'head'), el('span', 'badge', 'pending'), el('time'), el('div', 'meta'), el('ul', 'chips')];
  root.dataset.ticketId = id;
  head.append(el('code', '', id), badge, time);
  root.append(head, meta, chips);
  $('no-tickets').hidden = true;
  $('tickets').prepend(root);
  c = { root, badge, time, meta, chips, seen: new Set(), kinds: new Set() };
  cards.set(id, c);
  if (cards.size > 200) {  // keep the page light: drop the oldest card
    const [oldest, old] = cards.entries().next().value;
    old.root.remove();
    cards.delete(oldest);
  }
  return c;
}
function setStatus(c, status) {
  c.badge.textContent = status;
  c.badge.className = 'badge ' + (status === 'confirmed' || status === 'canceled' ? status : '');
  c.root.classList.toggle('canceled', status === 'canceled');
}
function label(s) {
  switch (s.kind) {
    case 'ACCEPTED': return 'accepted';
    case 'STORED': return 'stored';
    case 'RECEIPT_ISSUED': return 'receipt ' + (s.detail || '');
    case 'APPENDED_TO_TRACKER': return 'tracker ' + (s.detail || '');
    case 'CANCELED': return 'canceled';
    case 'DEAD_LETTERED': return `dead-lettered: ${s.detail || 'no reason given'}`;
    case 'RETRYING': return `${s.handler || 'handler'} retrying` +
        (s.next_attempt_at ? ` at ${new Date(s.next_attempt_at).toLocaleTimeString()}` : '') +
        `: ${s.detail || ''}`;
    case 'HANDLED': return (s.handler || 'handler') + ' done';
    default: return String(s.kind || 'step').toLowerCase();
  }
}
function addStep(s) {
  if (!s || typeof s.ticket_id !== 'string' || !s.ticket_id) return;
  const kind = s.kind || 'KIND_UNSPECIFIED';
  const c = card(s.ticket_id);
  const key = s.resume_token || [kind, s.handler, s.detail, s.at].join('|');
  if (c.seen.has(key)) return;  // a step replayed after a reconnection
  c.seen.add(key);
  c.kinds.add(kind);
  const chip = el('li', 'chip k-' + kind.toLowerCase(), label(Object.assign({}, s, { kind })));
  chip.dataset.kind = kind;
  const when = s.at ? new Date(s.at) : null;
  chip.title = [s.handler, when && when.toLocaleString(), s.correlation_id && 'correlation ' + s.correlation_id,
                kind === 'ACCEPTED' && s.detail].filter(Boolean).join(' · ');
  c.chips.append(chip);
  if (kind === 'ACCEPTED') $('tickets').prepend(c.root);  // a new status change: to the top
  if (kind === 'ACCEPTED' && s.detail) setStatus(c, s.detail);
  if (kind === 'CANCELED') setStatus(c, 'canceled');
  if (kind === 'DEAD_LETTERED') { c.root.classList.add('dead'); loadDeadLetters(); }
  if (when && !isNaN(when)) { c.time.dateTime = s.at; c.time.textContent = when.toLocaleTimeString(); }
  gate.check(s.ticket_id);
}

// Server-Sent Events parsed by hand: EventSource cannot send an Authorization header.
function sseParser(onEvent, onComment) {
  let buf = '', data = [], type = '', id = null, skipLF = false;
  return (chunk) => {
    if (skipLF && chunk[0] === '\n') chunk = chunk.slice(1);
    skipLF = chunk.endsWith('\r');
    const lines = (buf + chunk).split(/\r\n|\r|\n/);
    buf = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (data.length) onEvent(type || 'message', data.join('\n'), id);
        data = []; type = ''; id = null;
      } else if (line[0] === ':') {
        onComment(line.slice(1).trim());
      } else {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(line[i + 1] === ' ' ? i + 2 : i + 1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
    }
  };
}
const watch = { ctrl: null, lastId: '', attempt: 0, timer: 0 };
function setConn(state, text) { $('conn').className = 'pill ' + state; $('conn').textContent = text; }
function onEvent(type, data, id) {
  let json = null;
  try { json = JSON.parse(data); } catch (e) { /* shown below */ }
  if (type === 'error') {
    show($('watch-msg'), 'The stream reported: ' + ((json && json.message) || data), 'error');
  } else if (!json) {
    show($('watch-msg'), 'A step that is not JSON was skipped: ' + data.slice(0, 200), 'error');
  } else {
    addStep(json);
  }
  if (id) watch.lastId = id;
  else if (json && json.resume_token) watch.lastId = json.resume_token;
}
async function connect() {
  clearTimeout(watch.timer);
  if (watch.ctrl) watch.ctrl.abort();
  const ctrl = (watch.ctrl = new AbortController());
  let idle = 0, liveSince = 0;
  // Heartbeats come every 15 s: a silent minute means a dead connection.
  const kick = () => { clearTimeout(idle); idle = setTimeout(() => ctrl.abort(), 60000); };
  setConn(watch.attempt ? 'retry' : '', watch.attempt ? 'reconnecting…' : 'connecting…');
  try {
    kick();
    const h = headers({ Accept: 'text/event-stream' });
    if (watch.lastId) h['Last-Event-ID'] = watch.lastId;
    const res = await fetch('/v1/tickets:watch', { headers: h, cache: 'no-store', signal: ctrl.signal });
    if (!res.ok) throw await failure(res, 'read');
    liveSince = Date.now();
    setConn('live', 'live');
    $('watch-msg').hidden = true;
    gate.connected();
    const parse = sseParser(onEvent, () => {});
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      kick();
      parse(decoder.decode(value, { stream: true }));
    }
    throw new Error('the service ended the stream');
  } catch (e) {
    clearTimeout(idle);
    if (ctrl !== watch.ctrl) return;  // replaced by a newer connection
    if (e.status === 401 || e.status === 403) {
      setConn('down', 'needs a token');
      show($('watch-msg'), e.message, 'error');
      gate.release();
      return;  // until a token is saved
    }
    if (liveSince && Date.now() - liveSince > 10000) watch.attempt = 0;
    const base = Math.min(30000, 1000 * 2 ** Math.min(watch.attempt++, 5));
    const delay = Math.max((e.retryAfter || 0) * 1000, base * (0.8 + 0.4 * Math.random()));
    setConn('retry', `reconnecting in ${Math.ceil(delay / 1000)} s`);
    const why = ctrl.signal.aborted ? 'no heartbeat for a minute' : e.message;
    show($('watch-msg'), `Live steps interrupted (${why}); reconnecting and resuming after the last step.`, 'error');
    watch.timer = setTimeout(connect, delay);
  }
}

// --- Sending -------------------------------------------------------------------------------
let lastTicket = null;
async function send(status) {
  if (status === 'canceled' && !lastTicket) {
    // The server refuses a refund for a ticket never sold (409); say so before asking.
    show($('send-msg'), 'Send a confirmed ticket first: only a ticket that was sold can be canceled.', 'error');
    return null;
  }
  const id = status === 'canceled' ? lastTicket : uuid4();
  const change = { ticket_id: id, status, customer_email: $('email').value.trim(),
                   price: { amount: $('amount').value.trim(), currency: $('currency').value.trim().toUpperCase() } };
  const buttons = [$('send-confirmed'), $('send-canceled')];
  buttons.forEach((b) => (b.disabled = true));
  show($('send-msg'), `Sending ${status} ticket ${id}…`, 'info');
  try {
    const r = await api('POST', '/v1/tickets-status', { tickets: [change], idempotency_key: uuid4() }, 'write');
    lastTicket = id;
    const c = card(id);
    c.meta.textContent = `${change.customer_email} · ${change.price.amount} ${change.price.currency}`;
    show($('send-msg'), `Sent: ${status} ticket ${id} (${r.accepted_events || 0} event accepted).`, 'ok');
    return id;
  } catch (e) {
    show($('send-msg'), e.message, 'error');
    return null;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

// --- Dead letters --------------------------------------------------------------------------
let dlLoading = null, dlAgain = false;
async function loadDeadLetters() {
  if (dlLoading) { dlAgain = true; return dlLoading; }
  dlLoading = (async () => {
    try {
      const r = await api('GET', '/v1/admin/dead-letters?page_size=100', null, 'admin');
      renderDeadLetters(r.dead_letters || []);
      if ($('dl-msg').classList.contains('error')) $('dl-msg').hidden = true;
    } catch (e) {
      show($('dl-msg'), e.message, 'error');
    }
  })();
  await dlLoading;
  dlLoading = null;
  if (dlAgain) { dlAgain = false; return loadDeadLetters(); }
}
function renderDeadLetters(list) {
  const ul = $('dl-list');
  ul.replaceChildren();
  $('dl-title').textContent = list.length ? `Dead letters (${list.length})` : 'Dead letters';
  $('dl-retry-all').disabled = !list.length;
  if (!list.length) ul.append(el('li', 'empty', 'No dead letters: every handler is keeping up.'));
  for (const d of list) {
    const li = el('li', 'dl');
    const body = el('div');
    const id = d.id || {};
    const type = String(d.event_type || 'event').replace(/^tickets\.v1\./, '');
    const n = d.attempts || 0, at = d.failed_at && new Date(d.failed_at);
    const what = el('div');
    what.append(el('b', '', id.handler || '?'), el('span', 'sub', `${n} attempt${n === 1 ? '' : 's'}`));
    body.append(what, el('div', 'why', d.reason || 'no reason given'),
                el('div', 'sub', `${type} #${id.sequence || '?'}${at ? ' · ' + at.toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' }) : ''}`),
                el('div', 'sub', 'ticket ' + (d.ticket_id || '-')));
    const retry = el('button', '', 'Retry');
    retry.addEventListener('click', () => retryDeadLetters({ ids: [{ sequence: id.sequence, handler: id.handler }] }, retry));
    li.append(body, retry);
    ul.append(li);
  }
}
async function retryDeadLetters(body, button) {
  button.disabled = true;
  try {
    const r = await api('POST', '/v1/admin/dead-letters:retry', body, 'admin');
    show($('dl-msg'), `Sent back for another try: ${r.retried || 0}.`, 'ok');
  } catch (e) {
    show($('dl-msg'), e.message, 'error');
  } finally {
    button.disabled = false;
  }
  await loadDeadLetters();
}

// --- Headless runs -------------------------------------------------------------------------
// `?send=confirmed` sends one ticket once the stream is live. Headless Chromium's --dump-dom and
// --screenshot capture the page at its load event, so a hidden frame whose document is left open
// holds that event until the ticket is stored and receipted (or failed; at most 25 s).
const gate = (() => {
  if (params.get('send') !== 'confirmed') return { connected() {}, check() {}, release() {} };
  const frame = Object.assign(el('iframe'), { hidden: true, title: 'load gate' });
  document.body.append(frame);
  frame.contentDocument.open();
  let sent = false, ticket = null, done = false, grace = 0;
  const release = () => { if (!done) { done = true; frame.contentDocument.close(); } };
  setTimeout(release, 25000);
  const check = (id) => {
    const c = id === ticket && cards.get(id);
    if (!c) return;
    if (c.kinds.has('DEAD_LETTERED') || (c.kinds.has('STORED') && c.kinds.has('RECEIPT_ISSUED') &&
                                         c.kinds.has('APPENDED_TO_TRACKER'))) {
      setTimeout(release, 100);
    } else if (c.kinds.has('STORED') && c.kinds.has('RECEIPT_ISSUED') && !grace) {
      grace = setTimeout(release, 1500);  // the tracker step is nice to have, not needed
    }
  };
  const connected = async () => {
    if (sent) return;
    sent = true;
    if ((ticket = await send('confirmed'))) check(ticket); else release();
  };
  return { connected, check, release };
})();

// --- Start ---------------------------------------------------------------------------------
$('token').value = token;
$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
  $('notice').hidden = true;
  $('token-form').classList.remove('attention');
  watch.attempt = 0;
  connect();
  loadDeadLetters();
});
$('token-clear').addEventListener('click', () => { $('token').value = ''; $('token-form').requestSubmit(); });
$('send-confirmed').addEventListener('click', () => send('confirmed'));
$('send-canceled').addEventListener('click', () => send('canceled'));
$('dl-refresh').addEventListener('click', () => loadDeadLetters());
$('dl-retry-all').addEventListener('click', (ev) => retryDeadLetters({ all: true }, ev.currentTarget));
connect();
loadDeadLetters();
</script>
</body>
</html>
)html";

}  // namespace

std::string_view ConsolePageHtml() { return kPage; }

}  // namespace booking::console
