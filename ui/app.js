// Twin fabric dashboard: plain JavaScript, no framework, no external URLs.
// Reads everything through the REST gateway (/api/v1) with the bearer token
// kept in localStorage; live values come from the SSE stream.
'use strict';

const api = '/api/v1';
const state = {
  token: localStorage.getItem('twin.token') || '',
  fleetTokens: [''],   // page tokens of the pages visited (first page: '')
  fleetPage: 0,
  twin: null,          // the twin shown in detail
  lineageProperty: '',
  source: null,        // EventSource
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ''));
  return e;
}

function show(message, isError = true) {
  const m = $('message');
  m.textContent = message;
  m.className = isError ? 'error' : 'info';
  m.hidden = !message;
}

function fmt(v) {
  if (v === undefined) return '';
  if (v === null) return 'null';
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number' && !Number.isInteger(v)) return v.toPrecision(6).replace(/\.?0+$/, '');
  return String(v);
}

function time(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}

// Calls the API; resolves to the parsed body, rejects with a readable
// message built from the problem+json document.
async function call(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(api + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (_) { doc = null; }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    if (doc && doc.code) {
      msg = `${doc.status} ${doc.code}: ${doc.detail}`;
      if (doc.rule) msg += ` [${doc.rule}${doc.path ? ' at ' + doc.path : ''}]`;
    }
    if (res.status === 401) msg += ' (set a valid token above)';
    throw new Error(msg);
  }
  return doc;
}

// -- fleet -------------------------------------------------------------------

async function loadFleet() {
  const q = new URLSearchParams();
  const lc = $('fleet-lifecycle').value;
  const model = $('fleet-model').value.trim();
  if (lc) q.set('lifecycle', lc);
  if (model) q.set('model', model);
  q.set('limit', $('fleet-limit').value);
  const token = state.fleetTokens[state.fleetPage];
  if (token) q.set('pageToken', token);
  try {
    const page = await call('GET', '/twins?' + q.toString());
    const rows = $('fleet-rows');
    rows.replaceChildren(...(page.items || []).map((t) => el('tr', {},
      el('td', {}, el('a', { href: '#/twin/' + encodeURIComponent(t.$id) }, t.$id)),
      el('td', {}, t.$model),
      el('td', {}, el('span', { class: 'badge ' + t.$lifecycle }, t.$lifecycle)))));
    if (!page.items || page.items.length === 0)
      rows.replaceChildren(el('tr', {}, el('td', { colspan: '3', class: 'muted' }, 'no twins')));
    state.fleetTokens.length = state.fleetPage + 1;
    if (page.nextPageToken) state.fleetTokens.push(page.nextPageToken);
    $('fleet-next').disabled = !page.nextPageToken;
    $('fleet-first').disabled = state.fleetPage === 0;
    $('fleet-page').textContent = 'page ' + (state.fleetPage + 1);
    show('');
  } catch (e) { show(e.message); }
}

function resetFleet() { state.fleetTokens = ['']; state.fleetPage = 0; loadFleet(); }

// -- twin detail ---------------------------------------------------------------

function valueRows(values, tbody, kind) {
  const names = Object.keys(values || {}).sort();
  tbody.replaceChildren(...names.map((n) => {
    const v = values[n];
    return el('tr', { 'data-name': n, 'data-kind': kind },
      el('td', {}, n),
      el('td', { class: 'value' }, fmt(v.value)),
      el('td', {}, time(v.sourceTime)),
      el('td', {}, fmt(v.version)),
      el('td', {}, el('button', { class: 'link', onclick: () => loadLineage(n) }, 'lineage')));
  }));
  if (names.length === 0)
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'none')));
}

function renderTwin(t) {
  state.twin = t;
  $('twin-title').textContent = t.$id;
  $('twin-lifecycle').textContent = t.$lifecycle;
  $('twin-lifecycle').className = 'badge ' + t.$lifecycle;
  $('twin-revision').textContent = `revision ${t.$revision} · ${t.$model}`;
  valueRows(t.properties, $('twin-properties'), 'properties');
  valueRows(t.telemetry, $('twin-telemetry'), 'telemetry');
}

async function loadTwin(id) {
  try {
    renderTwin(await call('GET', '/twins/' + encodeURIComponent(id)));
    $('twin-events').replaceChildren();
    $('lineage-items').replaceChildren();
    $('lineage-property').textContent = '';
    $('lineage-hint').hidden = false;
    show('');
  } catch (e) { show(e.message); }
}

async function transition(to) {
  if (!state.twin) return;
  const reason = prompt(`Reason for moving ${state.twin.$id} to ${to}:`);
  if (reason === null) return;
  if (!reason.trim()) { show('a reason is required'); return; }
  try {
    renderTwin(await call('POST', '/twins/' + encodeURIComponent(state.twin.$id) + '/lifecycle',
      { to, reason: reason.trim() }));
    show(`${state.twin.$id} is now ${to}`, false);
  } catch (e) { show(e.message); }
}

function lineageItem(ev) {
  const l = ev.lineage || {};
  const src = l.source ? `${l.source.kind} ${l.source.id}` : '';
  return el('li', {},
    el('div', {}, el('strong', {}, `rev ${ev.revision} · ${ev.type}`), ' ', el('span', { class: 'muted' }, time(ev.time))),
    el('div', {}, el('code', {}, fmt(ev.changes ?? (ev.to ? { from: ev.from, to: ev.to, reason: ev.reason } : {})))),
    el('div', { class: 'muted' },
      [src && `source: ${src}`, l.principal && `principal: ${l.principal}`,
       l.sourceTime && `source time: ${time(l.sourceTime)}`,
       l.pipelineVersion && `pipeline: ${l.pipelineVersion}`, l.model && `model: ${l.model}`,
       l.requestId && `request: ${l.requestId}`, l.sequence !== undefined && `seq: ${l.sequence}`]
        .filter(Boolean).join(' · ')));
}

async function loadLineage(property) {
  if (!state.twin) return;
  state.lineageProperty = property;
  try {
    const q = new URLSearchParams({ property });
    const res = await call('GET', '/twins/' + encodeURIComponent(state.twin.$id) + '/lineage?' + q);
    $('lineage-property').textContent = property;
    $('lineage-hint').hidden = true;
    $('lineage-items').replaceChildren(...(res.items || []).map(lineageItem));
    show('');
  } catch (e) { show(e.message); }
}

// Applies a live CloudEvent to the twin on screen.
function applyEvent(ce) {
  const t = state.twin;
  if (!t || ce.subject !== t.$id) return;
  const ev = ce.data || {};
  const list = $('twin-events');
  list.prepend(el('li', {}, el('strong', {}, ce.type), ' ', el('span', { class: 'muted' }, time(ce.time)), ' ',
    el('code', {}, fmt(ev.changes ?? (ev.to ? { to: ev.to, reason: ev.reason } : ev.detail ?? '')))));
  while (list.children.length > 50) list.lastChild.remove();
  if (ev.revision !== undefined) { t.$revision = ev.revision; }
  if (ce.type === 'twin.lifecycle_changed' && ev.to) t.$lifecycle = ev.to;
  if (ev.changes && typeof ev.changes === 'object') {
    const kind = ce.type === 'twin.telemetry_received' ? 'telemetry' : 'properties';
    for (const [name, value] of Object.entries(ev.changes)) {
      const bucket = (t.telemetry && name in t.telemetry) ? t.telemetry
        : (t.properties && name in t.properties) ? t.properties
        : (t[kind] = t[kind] || {});
      if (value === null) { delete bucket[name]; continue; }
      bucket[name] = { value, sourceTime: ev.lineage?.sourceTime ?? ce.time, version: ev.revision };
    }
  }
  renderTwin(t);
  for (const name of Object.keys(ev.changes || {})) {
    const row = document.querySelector(`tr[data-name="${CSS.escape(name)}"] .value`);
    if (row) { row.classList.remove('flash'); void row.offsetWidth; row.classList.add('flash'); }
  }
  if (state.lineageProperty && ev.changes && state.lineageProperty in ev.changes)
    loadLineage(state.lineageProperty);
}

// -- alerts and models ---------------------------------------------------------

async function loadAlerts() {
  try {
    const res = await call('GET', '/alerts?limit=1000');
    const items = (res.items || []).slice().reverse();
    $('alerts-rows').replaceChildren(...items.map((a) => el('tr', { class: 'sev-' + (a.severity || '') },
      el('td', {}, fmt(a.seq)), el('td', {}, time(a.time)), el('td', {}, a.type),
      el('td', {}, a.severity), el('td', {}, a.twin ? el('a', { href: '#/twin/' + encodeURIComponent(a.twin) }, a.twin) : ''),
      el('td', {}, fmt(a.cause)), el('td', {}, fmt(a.source)))));
    if (items.length === 0)
      $('alerts-rows').replaceChildren(el('tr', {}, el('td', { colspan: '7', class: 'muted' }, 'no alerts')));
    show('');
  } catch (e) { show(e.message); }
}

async function loadModels() {
  try {
    const res = await call('GET', '/models');
    $('models-rows').replaceChildren(...(res.items || []).map((m) => el('tr', {},
      el('td', {}, el('button', { class: 'link', onclick: () => showModel(m.id) }, m.id)),
      el('td', {}, fmt(m.dtdlVersion)), el('td', {}, fmt(m.displayName)))));
    $('model-document').hidden = true;
    show('');
  } catch (e) { show(e.message); }
}

async function showModel(dtmi) {
  try {
    const doc = await call('GET', '/models/' + encodeURIComponent(dtmi));
    $('model-document').textContent = JSON.stringify(doc, null, 2);
    $('model-document').hidden = false;
  } catch (e) { show(e.message); }
}

// -- live stream -----------------------------------------------------------------

function connect() {
  if (state.source) state.source.close();
  state.source = null;
  const badge = $('live');
  badge.textContent = 'offline'; badge.className = 'badge off';
  if (!state.token) return;
  const src = new EventSource(api + '/events?access_token=' + encodeURIComponent(state.token));
  state.source = src;
  src.onopen = () => { badge.textContent = 'live'; badge.className = 'badge on'; };
  src.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'badge off'; };
  const handler = (msg) => {
    let ce;
    try { ce = JSON.parse(msg.data); } catch (_) { return; }
    applyEvent(ce);
    if (ce.type === 'twin.alert.unexpected_data' && currentView() === 'alerts') loadAlerts();
  };
  for (const type of ['twin.created', 'twin.property_updated', 'twin.telemetry_received',
                      'twin.lifecycle_changed', 'twin.alert.unexpected_data'])
    src.addEventListener(type, handler);
  src.onmessage = handler;
}

// -- routing -----------------------------------------------------------------------

function currentView() {
  const h = location.hash || '#/fleet';
  return h.split('/')[1] || 'fleet';
}

function route() {
  const parts = (location.hash || '#/fleet').split('/');
  const view = parts[1] || 'fleet';
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + view;
  for (const a of document.querySelectorAll('nav a'))
    a.classList.toggle('active', a.dataset.view === view || (view === 'twin' && a.dataset.view === 'fleet'));
  if (view === 'fleet') { state.twin = null; loadFleet(); }
  else if (view === 'twin') loadTwin(decodeURIComponent(parts.slice(2).join('/')));
  else if (view === 'alerts') loadAlerts();
  else if (view === 'models') loadModels();
}

document.addEventListener('DOMContentLoaded', () => {
  $('token').value = state.token;
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    if (state.token) localStorage.setItem('twin.token', state.token);
    else localStorage.removeItem('twin.token');
    connect();
    route();
  });
  $('fleet-refresh').addEventListener('click', resetFleet);
  $('fleet-lifecycle').addEventListener('change', resetFleet);
  $('fleet-limit').addEventListener('change', resetFleet);
  $('fleet-model').addEventListener('change', resetFleet);
  $('fleet-next').addEventListener('click', () => { state.fleetPage++; loadFleet(); });
  $('fleet-first').addEventListener('click', resetFleet);
  for (const b of document.querySelectorAll('#twin-actions button'))
    b.addEventListener('click', () => transition(b.dataset.to));
  $('alerts-refresh').addEventListener('click', loadAlerts);
  $('models-refresh').addEventListener('click', loadModels);
  window.addEventListener('hashchange', route);
  connect();
  route();
});
