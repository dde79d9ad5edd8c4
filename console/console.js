// The operator console: handlers at a glance, tickets, dead letters by the batch. Plain DOM
// code with no build step and no dependency, loaded as a module (its own scope, strict);
// everything the service says goes through textContent, never parsed as HTML.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = 'booking.console.token';
const SAMPLES_KEY = 'booking.console.samples';
const POLL_MS = 2000;
const CHART_SPAN_MS = 5 * 60 * 1000;
const PAGE_SIZE = 10;
let token = sessionStorage.getItem(TOKEN_KEY) || '';

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
// A table's body emptied, holding `text` across its columns when there is nothing to list.
function fillTable(table, rows, emptyText) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) {
    const td = el('td', 'empty', emptyText);
    td.colSpan = table.tHead.rows[0].cells.length;
    body.append(el('tr')).append(td);
  }
}
const priceText = (price) => (price ? `${price.amount} ${price.currency}` : '');
function show(node, text, kind) {
  node.textContent = text || '';
  node.className = 'msg ' + (kind || 'info');
  node.hidden = !text;
}
// Version 4 UUID from getRandomValues (crypto.randomUUID needs a secure context).
function uuid4() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const fmtTime = (iso) => {
  const d = iso ? new Date(iso) : null;
  return d && !isNaN(d) ? d.toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' }) : '';
};
// "1.5s" (a protobuf Duration in JSON) as seconds.
const seconds = (duration) => (typeof duration === 'string' ? parseFloat(duration) || 0 : 0);
function fmtSeconds(s) {
  if (s < 1) return s > 0 ? '<1 s' : '0 s';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}
const fmtCount = (n) => Number(n || 0).toLocaleString('en-US');
// Today's times without the date, older ones with it.
function fmtWhen(iso) {
  const d = iso ? new Date(iso) : null;
  if (!d || isNaN(d)) return '';
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : fmtTime(iso);
}
// A scale's label: whole numbers, one decimal below 10.
const fmtTick = (v) => (v < 10 && v !== Math.round(v) ? v.toFixed(1) : fmtCount(Math.round(v)));
// "5a1f3c9e…4e5f": enough to tell tickets apart in a list (the full id is its title).
const shortId = (id) => (id && id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id || '');

// --- Calls ---------------------------------------------------------------------------------
const headers = (extra) => Object.assign(token ? { Authorization: 'Bearer ' + token } : {}, extra);

// An error of the service ({"code","message","details"}) with its field violations kept, so a
// form can show each one at its field.
async function failure(res, scope) {
  const text = await res.text().catch(() => '');
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: the text is shown
  }
  const fields = [];
  for (const d of (json && Array.isArray(json.details) && json.details) || []) {
    for (const f of d.fieldViolations || d.field_violations || []) {
      if (f && typeof f.field === 'string') fields.push({ field: f.field, description: String(f.description || '') });
    }
  }
  let message = (json && json.message) || text.slice(0, 300) || res.statusText || 'no details';
  if (res.status === 401 || res.status === 403) {
    const what = res.status === 403 ? 'This token lacks the scope' : token ? 'The token was not accepted' : 'A bearer token is needed';
    message = `${what}: enter a token with the “${scope}” scope above (${message})`;
    show($('notice'), 'The service asks for a bearer token: enter one above.', 'error');
    $('token-form').classList.add('attention');
  } else if (res.status === 429 || res.status === 503) {
    message = 'The service is busy, try again shortly: ' + message;
  }
  return Object.assign(new Error(message), { status: res.status, fields });
}

async function api(method, path, body, scope, signal) {
  let res;
  try {
    res = await fetch(path, {
      method, cache: 'no-store', signal, body: body ? JSON.stringify(body) : undefined,
      headers: headers(body ? { 'Content-Type': 'application/json' } : {}),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw Object.assign(new Error('Cannot reach the service: ' + e.message), { status: 0, fields: [] });
  }
  if (!res.ok) throw await failure(res, scope);
  return res.json();
}

// Shows an error at the fields it names (`map`: the service's field path -> input id) and
// returns what no field took, for the form's message line.
function fieldErrors(map, err) {
  const inputs = Object.values(map);
  for (const id of inputs) {
    $(id).removeAttribute('aria-invalid');
    $(id + '-error').hidden = true;
  }
  if (!err) return '';
  let placed = false;
  for (const f of err.fields || []) {
    const id = map[f.field];
    if (!id) continue;
    $(id).setAttribute('aria-invalid', 'true');
    const note = $(id + '-error');
    note.textContent = note.hidden ? f.description : `${note.textContent}; ${f.description}`;
    note.hidden = false;
    placed = true;
  }
  return placed ? '' : err.message;
}

// --- Handlers at a glance -------------------------------------------------------------------
let samples = [];
try {
  samples = JSON.parse(sessionStorage.getItem(SAMPLES_KEY) || '[]').filter((s) => Date.now() - s.t < CHART_SPAN_MS);
} catch {
  samples = [];
}
let handlerNames = [];

function setConn(state, text) {
  $('conn').className = 'pill ' + state;
  $('conn').textContent = text;
}

function renderHandlers(list) {
  const rows = [];
  for (const h of list) {
    const tr = el('tr');
    tr.dataset.handler = h.handler;
    const behind = seconds(h.oldest_unread_age);
    if (Number(h.lag) > 0) tr.classList.add('behind');
    const parked = Number(h.parked || 0);
    const breaker = h.retired ? 'retired' : h.configured === false ? 'not here' : h.breaker || 'closed';
    const cells = [
      el('td', '', h.handler),
      el('td', 'num lag', fmtCount(h.lag)),
      el('td', 'num age', Number(h.lag) > 0 ? fmtSeconds(behind) : '–'),
      el('td', 'num', fmtCount(h.in_flight)),
      el('td', 'num', parked ? `${fmtCount(parked)} (${fmtSeconds(seconds(h.oldest_parked_age))})` : '0'),
      el('td', 'num', fmtCount(h.retry_backlog)),
      el('td'),
      el('td', 'err', h.last_error ? `${h.last_error}${h.last_error_at ? ' · ' + fmtTime(h.last_error_at) : ''}` : ''),
    ];
    cells[6].append(el('span', 'badge ' + breaker, breaker));
    cells[7].title = cells[7].textContent;  // one line in the table, the whole text on hover
    tr.append(...cells);
    rows.push(tr);
  }
  fillTable($('handlers'), rows, 'No handler runs on this instance.');
}

function renderHandlerOptions(names) {
  if (names.join() === handlerNames.join()) return;
  handlerNames = names;
  const select = $('dl-handler');
  const chosen = select.value;
  select.replaceChildren(el('option', '', 'any'));
  select.options[0].value = '';
  for (const name of names) select.append(Object.assign(el('option', '', name), { value: name }));
  select.value = names.includes(chosen) ? chosen : '';
}

function record(list) {
  const here = list.filter((h) => h.configured !== false);
  const sample = {
    t: Date.now(),
    handled: here.reduce((sum, h) => sum + Number(h.succeeded || 0) + Number(h.dead_lettered || 0), 0),
    lag: list.filter((h) => !h.retired).reduce((sum, h) => sum + Number(h.lag || 0), 0),
  };
  samples.push(sample);
  samples = samples.filter((s) => sample.t - s.t <= CHART_SPAN_MS);
  try {
    sessionStorage.setItem(SAMPLES_KEY, JSON.stringify(samples));
  } catch {
    // storage full or off: the chart lives in memory only
  }
}

// Events handled per second between two samples (a restarted instance's counters start at 0).
function rates() {
  const out = [];
  for (let i = 1; i < samples.length; ++i) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000;
    const dn = samples[i].handled - samples[i - 1].handled;
    if (dt > 0) out.push({ t: samples[i].t, v: dn >= 0 ? dn / dt : 0 });
  }
  return out;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
// A scale's top: 1, 2 or 5 times a power of ten, at least `max`.
function niceTop(max) {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max);
}

function drawChart() {
  const chart = $('chart');
  const [W, H, L, R, T, B] = [520, 170, 40, 44, 8, 20];
  const now = Date.now();
  const x = (t) => L + ((t - (now - CHART_SPAN_MS)) / CHART_SPAN_MS) * (W - L - R);
  const rate = rates();
  const rateTop = niceTop(Math.max(0, ...rate.map((p) => p.v)));
  const lagTop = niceTop(Math.max(0, ...samples.map((s) => s.lag)));
  const y = (v, top) => T + (1 - v / top) * (H - T - B);
  const keep = [...chart.childNodes].filter((n) => n.nodeName === 'title');
  chart.replaceChildren(...keep);
  for (let i = 0; i <= 5; ++i) {
    const gy = T + (i / 5) * (H - T - B);
    chart.append(svg('line', { class: 'grid', x1: L, x2: W - R, y1: gy, y2: gy }));
    chart.append(svg('text', { class: 'axis', x: L - 4, y: gy + 3, 'text-anchor': 'end' }, fmtTick((rateTop * (5 - i)) / 5)));
    chart.append(svg('text', { class: 'axis', x: W - R + 4, y: gy + 3 }, fmtTick((lagTop * (5 - i)) / 5)));
  }
  for (const [label, at] of [['-5 min', now - CHART_SPAN_MS], ['-2.5', now - CHART_SPAN_MS / 2], ['now', now]]) {
    chart.append(svg('text', { class: 'axis', x: x(at), y: H - 6, 'text-anchor': 'middle' }, label));
  }
  const line = (points, cls, top) => svg('polyline', {
    class: cls, id: 'chart-' + cls + '-line',
    points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v, top).toFixed(1)}`).join(' '),
  });
  chart.append(line(rate, 'rate', rateTop), line(samples.map((s) => ({ t: s.t, v: s.lag })), 'lag', lagTop));
  const last = rate.length ? rate[rate.length - 1].v : null;
  $('chart-rate').textContent = last === null ? '–' : fmtCount(Math.round(last));
  $('chart-lag').textContent = samples.length ? fmtCount(samples[samples.length - 1].lag) : '–';
}

let pollTimer = 0;
async function pollHandlers() {
  clearTimeout(pollTimer);
  try {
    const r = await api('GET', '/v1/admin/handlers', null, 'admin');
    const list = r.handlers || [];
    renderHandlers(list);
    renderHandlerOptions(list.map((h) => h.handler));
    record(list);
    $('handlers-updated').textContent = `instance ${r.instance_id || '?'} · ${r.partitions_held || 0} partitions · ${new Date().toLocaleTimeString()}`;
    setConn('live', 'live');
  } catch (e) {
    setConn(e.status === 401 || e.status === 403 ? 'down' : 'retry', e.status === 401 || e.status === 403 ? 'needs a token' : 'retrying');
    $('handlers-updated').textContent = e.message;
  }
  drawChart();
  pollTimer = setTimeout(pollHandlers, POLL_MS);
}

// --- Tickets -------------------------------------------------------------------------------
const pages = { tokens: [''], at: 0 };
async function loadTickets() {
  const pageToken = pages.tokens[pages.at];
  const q = new URLSearchParams({ page_size: String(PAGE_SIZE) });
  if (pageToken) q.set('page_token', pageToken);
  try {
    const r = await api('GET', '/v1/tickets?' + q, null, 'read');
    const rows = [];
    for (const t of r.tickets || []) {
      const tr = el('tr');
      tr.dataset.ticketId = t.ticket_id;
      const status = el('td');
      status.append(el('span', 'badge ' + (t.status || ''), t.status || '?'));
      const id = el('td', 'mono nowrap', shortId(t.ticket_id));
      id.title = t.ticket_id;
      tr.append(id, status, el('td', '', t.customer_email), el('td', 'num', priceText(t.price)), el('td', 'sub nowrap', fmtWhen(t.updated_at)));
      tr.addEventListener('click', () => openTicket(t.ticket_id));
      rows.push(tr);
    }
    fillTable($('ticket-list'), rows, 'No ticket yet.');
    if (r.next_page_token) pages.tokens[pages.at + 1] = r.next_page_token;
    else pages.tokens.length = pages.at + 1;
    $('page-prev').disabled = pages.at === 0;
    $('page-next').disabled = pages.at + 1 >= pages.tokens.length;
    $('page-info').textContent = `page ${pages.at + 1}`;
    $('list-msg').hidden = true;
  } catch (e) {
    show($('list-msg'), e.message, 'error');
  }
}

const detail = { ticket: null, watch: null };
const LOOKUP_FIELDS = { ticket_id: 'lookup-id' };

async function openTicket(id) {
  fieldErrors(LOOKUP_FIELDS, null);
  if (!id) {
    fieldErrors(LOOKUP_FIELDS, { fields: [{ field: 'ticket_id', description: 'Enter a ticket id.' }] });
    return;
  }
  let ticket;
  try {
    ticket = await api('GET', '/v1/tickets/' + encodeURIComponent(id), null, 'read');
  } catch (e) {
    // The service names the field (ticket_id) when the id is no UUID; a 404 concerns it too.
    if (e.status === 404) e.fields = [{ field: 'ticket_id', description: `No ticket ${id}: ${e.message}` }];
    const rest = fieldErrors(LOOKUP_FIELDS, e);
    if (rest) fieldErrors(LOOKUP_FIELDS, { fields: [{ field: 'ticket_id', description: rest }] });
    return;
  }
  $('lookup-id').value = ticket.ticket_id;
  showTicket(ticket);
  for (const tr of $('ticket-list').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.ticketId === ticket.ticket_id);
  watchHistory(ticket.ticket_id);
}

function showTicket(ticket) {
  detail.ticket = ticket;
  $('ticket-detail').hidden = false;
  $('ticket-browser').hidden = true;  // one at a time: the list comes back on Close
  $('detail-title').textContent = 'Ticket ' + ticket.ticket_id;
  const dl = $('detail-fields');
  dl.replaceChildren();
  for (const [k, v] of [['Status', ticket.status], ['Customer', ticket.customer_email], ['Price', priceText(ticket.price)],
    ['Booking', ticket.booking_id || '–'], ['Updated', fmtTime(ticket.updated_at)]]) {
    dl.append(el('dt', '', k), el('dd', k === 'Status' ? 'status' : '', v));
  }
  $('cancel-ticket').disabled = ticket.status !== 'confirmed';
}

function stepText(s) {
  switch (s.kind) {
    case 'ACCEPTED': return `accepted: ${s.detail || ''}`;
    case 'STORED': return 'stored';
    case 'RECEIPT_ISSUED': return `receipt ${s.detail || ''}`;
    case 'APPENDED_TO_TRACKER': return `tracker row on ${s.detail || 'the sheet'}`;
    case 'CANCELED': return 'canceled';
    case 'DEAD_LETTERED': return `${s.handler || 'a handler'} gave up: ${s.detail || 'no reason given'}`;
    case 'RETRYING': return `${s.handler || 'a handler'} retrying${s.next_attempt_at ? ' at ' + fmtTime(s.next_attempt_at) : ''}: ${s.detail || ''}`;
    case 'HANDLED': return `${s.handler || 'a handler'} done`;
    default: return String(s.kind || 'step').toLowerCase();
  }
}

// Server-Sent Events read with fetch: EventSource cannot send an Authorization header.
function sseLines(onData) {
  let buf = '';
  let data = [];
  return (chunk) => {
    const lines = (buf + chunk).split(/\r\n|\r|\n/);
    buf = lines.pop();
    for (const line of lines) {
      if (line === '') {
        if (data.length) onData(data.join('\n'));
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
    }
  };
}

// The ticket's whole history (every step recorded so far), then each new step as it happens.
async function watchHistory(id) {
  if (detail.watch) detail.watch.abort();
  const ctrl = (detail.watch = new AbortController());
  const list = $('history');
  list.replaceChildren(el('li', 'sub', 'Loading…'));
  const seen = new Set();
  try {
    const res = await fetch('/v1/tickets:watch?ticket_ids=' + encodeURIComponent(id), {
      headers: headers({ Accept: 'text/event-stream' }), cache: 'no-store', signal: ctrl.signal,
    });
    if (!res.ok) throw await failure(res, 'read');
    list.replaceChildren();
    const parse = sseLines((data) => {
      let step;
      try {
        step = JSON.parse(data);
      } catch {
        return;
      }
      if (!step.ticket_id || step.ticket_id !== id) return;
      const key = step.resume_token || [step.kind, step.handler, step.detail, step.at].join('|');
      if (seen.has(key)) return;
      seen.add(key);
      const li = el('li', 'k-' + String(step.kind || '').toLowerCase());
      li.dataset.kind = step.kind || '';
      const when = el('time', '', fmtTime(step.at));
      if (step.at) when.dateTime = step.at;
      li.append(when, document.createTextNode(stepText(step)));
      list.append(li);
      if (step.kind === 'CANCELED' && detail.ticket && detail.ticket.ticket_id === id) {
        showTicket(Object.assign({}, detail.ticket, { status: 'canceled' }));
      }
    });
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parse(decoder.decode(value, { stream: true }));
    }
  } catch (e) {
    if (ctrl.signal.aborted) return;
    list.append(el('li', 'k-dead_lettered', 'History interrupted: ' + e.message));
  }
}

function closeTicket() {
  if (detail.watch) detail.watch.abort();
  detail.ticket = null;
  $('ticket-detail').hidden = true;
  $('ticket-browser').hidden = false;
  $('detail-msg').hidden = true;
  for (const tr of $('ticket-list').tBodies[0].rows) tr.classList.remove('selected');
}

function askCancel() {
  const t = detail.ticket;
  if (!t) return;
  $('confirm-text').textContent = `Ticket ${t.ticket_id} of ${t.customer_email || 'an unknown customer'}, ${priceText(t.price)}.`;
  $('confirm-cancel').showModal();
}

async function cancelTicket() {
  $('confirm-cancel').close();
  const t = detail.ticket;
  if (!t) return;
  const change = { ticket_id: t.ticket_id, status: 'canceled', customer_email: t.customer_email, price: t.price };
  if (t.booking_id) change.booking_id = t.booking_id;
  $('cancel-ticket').disabled = true;
  show($('detail-msg'), 'Canceling…', 'info');
  try {
    await api('POST', '/v1/tickets-status', { tickets: [change], idempotency_key: uuid4(), consistency: 'STORED' }, 'write');
    show($('detail-msg'), 'Canceled: the refund is under way (see the history below).', 'ok');
    const fresh = await api('GET', '/v1/tickets/' + encodeURIComponent(t.ticket_id), null, 'read').catch(() => null);
    if (fresh && detail.ticket && detail.ticket.ticket_id === fresh.ticket_id) showTicket(fresh);
    loadTickets();
  } catch (e) {
    show($('detail-msg'), e.message, 'error');
    $('cancel-ticket').disabled = false;
  }
}

// --- Dead letters --------------------------------------------------------------------------
const DL_FIELDS = {
  'filter.handler': 'dl-handler', 'filter.failed_after': 'dl-after',
  'filter.failed_before': 'dl-before', 'filter.reason_contains': 'dl-reason',
};
let dryRunFor = null;  // the filter (as JSON) the last dry run counted: Retry acts on it only

// The form as a DeadLetterFilter; a time the browser cannot read is an error at its field.
function currentFilter() {
  const filter = {};
  const bad = [];
  if ($('dl-handler').value) filter.handler = $('dl-handler').value;
  for (const [id, field] of [['dl-after', 'failed_after'], ['dl-before', 'failed_before']]) {
    const input = $(id);
    if (input.validity && input.validity.badInput) {
      bad.push({ field: 'filter.' + field, description: 'not a complete date and time' });
    } else if (input.value) {
      filter[field] = new Date(input.value).toISOString();
    }
  }
  const reason = $('dl-reason').value.trim();
  if (reason) filter.reason_contains = reason;
  return { filter, bad };
}

function filterQuery(filter) {
  const q = new URLSearchParams({ page_size: '100' });
  for (const [k, v] of Object.entries(filter)) q.set('filter.' + k, v);
  return q;
}

function renderDeadLetters(r) {
  const list = r.dead_letters || [];
  const total = Number(r.total_matching || 0);
  $('dl-title').textContent = `Dead letters (${fmtCount(total)})`;
  $('dl-summary').textContent = total > list.length ? `The oldest ${list.length} of ${fmtCount(total)} matching.` : `${fmtCount(total)} matching.`;
  const ul = $('dl-list');
  ul.replaceChildren();
  if (!list.length) ul.append(el('li', 'empty', 'No dead letter matches.'));
  for (const d of list) {
    const id = d.id || {};
    const li = el('li', 'dl');
    li.dataset.sequence = id.sequence || '';
    const body = el('div');
    const head = el('div');
    head.append(el('b', '', id.handler || '?'), el('span', 'sub', `${d.attempts || 0} attempt${d.attempts === 1 ? '' : 's'} · ${fmtTime(d.failed_at)}`));
    body.append(head, el('div', 'why', d.reason || 'no reason given'),
      el('div', 'sub mono', `${String(d.event_type || 'event').replace(/^tickets\.v1\./, '')} #${id.sequence || '?'} · ticket ${d.ticket_id || '–'}`));
    const retry = el('button', '', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', () => retry1(id, retry));
    li.append(body, retry);
    ul.append(li);
  }
}

async function showDeadLetters() {
  const { filter, bad } = currentFilter();
  if (bad.length) return fieldErrors(DL_FIELDS, { fields: bad });
  try {
    const r = await api('GET', '/v1/admin/dead-letters?' + filterQuery(filter), null, 'admin');
    fieldErrors(DL_FIELDS, null);
    renderDeadLetters(r);
  } catch (e) {
    const rest = fieldErrors(DL_FIELDS, e);
    if (rest) show($('dl-msg'), rest, 'error');
  }
}

async function dryRun() {
  const { filter, bad } = currentFilter();
  $('dl-retry').disabled = true;
  dryRunFor = null;
  if (bad.length) return fieldErrors(DL_FIELDS, { fields: bad });
  try {
    const r = await api('POST', '/v1/admin/dead-letters:retry', { filter, dry_run: true }, 'admin');
    fieldErrors(DL_FIELDS, null);
    const n = Number(r.matched || 0);
    show($('dl-msg'), n ? `Dry run: ${fmtCount(n)} dead letter${n === 1 ? '' : 's'} match; nothing was sent back yet.` : 'Dry run: no dead letter matches.', 'info');
    dryRunFor = n ? JSON.stringify(filter) : null;
    $('dl-retry').disabled = !n;
    $('dl-retry').textContent = n ? `Retry ${fmtCount(n)} matching` : 'Retry matching';
    showDeadLetters();
  } catch (e) {
    const rest = fieldErrors(DL_FIELDS, e);
    if (rest) show($('dl-msg'), rest, 'error');
  }
}

async function retryMatching() {
  const { filter } = currentFilter();
  if (dryRunFor === null || JSON.stringify(filter) !== dryRunFor) {
    show($('dl-msg'), 'The filter changed since the count: count again first.', 'error');
    $('dl-retry').disabled = true;
    return;
  }
  $('dl-retry').disabled = true;
  try {
    const r = await api('POST', '/v1/admin/dead-letters:retry', { filter }, 'admin');
    show($('dl-msg'), `Sent back for another try: ${fmtCount(r.retried || 0)}.`, 'ok');
  } catch (e) {
    show($('dl-msg'), e.message, 'error');
  }
  dryRunFor = null;
  $('dl-retry').textContent = 'Retry matching';
  showDeadLetters();
}

async function retry1(id, button) {
  button.disabled = true;
  try {
    const r = await api('POST', '/v1/admin/dead-letters:retry', { ids: [{ sequence: id.sequence, handler: id.handler }] }, 'admin');
    show($('dl-msg'), `Sent back for another try: ${r.retried || 0}.`, 'ok');
  } catch (e) {
    show($('dl-msg'), e.message, 'error');
  }
  showDeadLetters();
}

// --- Start ---------------------------------------------------------------------------------
function start() {
  $('token').value = token;
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    $('notice').hidden = true;
    $('token-form').classList.remove('attention');
    pollHandlers();
    loadTickets();
    showDeadLetters();
  });
  $('token-clear').addEventListener('click', () => {
    $('token').value = '';
    $('token-form').requestSubmit();
  });
  $('lookup-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    openTicket($('lookup-id').value.trim());
  });
  $('page-prev').addEventListener('click', () => {
    pages.at = Math.max(0, pages.at - 1);
    loadTickets();
  });
  $('page-next').addEventListener('click', () => {
    if (pages.at + 1 < pages.tokens.length) pages.at += 1;
    loadTickets();
  });
  $('page-refresh').addEventListener('click', () => loadTickets());
  $('detail-close').addEventListener('click', closeTicket);
  $('cancel-ticket').addEventListener('click', askCancel);
  $('confirm-keep').addEventListener('click', () => $('confirm-cancel').close());
  $('confirm-yes').addEventListener('click', cancelTicket);
  $('dl-filter').addEventListener('submit', (ev) => {
    ev.preventDefault();
    showDeadLetters();
  });
  $('dl-filter').addEventListener('input', () => {
    // A count holds for the filter it was made with only.
    if (dryRunFor !== null) {
      dryRunFor = null;
      $('dl-retry').disabled = true;
      $('dl-retry').textContent = 'Retry matching';
    }
  });
  $('dl-dry-run').addEventListener('click', dryRun);
  $('dl-retry').addEventListener('click', retryMatching);
  pollHandlers();
  loadTickets();
  showDeadLetters();
}

start();
