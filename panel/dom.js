// Small helpers to build the pages from elements (never from HTML strings,
// so nothing the server returns is ever parsed as markup).
import { t, language } from './i18n.js';

/** h('p', {class: 'x', onclick: f}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value') el.value = value;
    else if (name === 'checked') el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let idCounter = 0;
export const uid = (prefix) => `${prefix}-${++idCounter}`;

/** A labelled input: <div><label for>…</label><input id name>[hint]</div>. */
export function field(label, attrs, hint) {
  const id = attrs.id ?? uid(attrs.name ?? 'f');
  const hintId = hint ? `${id}-hint` : undefined;
  const tag = attrs.tag ?? 'input';
  const { tag: _tag, ...rest } = attrs;
  const control = h(tag, { ...rest, id, 'aria-describedby': hintId });
  if (tag === 'textarea' && attrs.value !== undefined) control.value = attrs.value;
  if (attrs.type === 'checkbox') {
    return h('div', { class: 'field check' }, control, h('label', { for: id }, label), hint ? h('p', { id: hintId, class: 'hint' }, hint) : null);
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { id: hintId, class: 'hint' }, hint) : null);
}

export function table(caption, headers, rows) {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, headers.map((text) => h('th', { scope: 'col' }, text)))),
    h('tbody', {}, rows),
  );
}

export function bytes(n) {
  if (n === null || n === undefined) return t('accounts.unlimited');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${new Intl.NumberFormat(language(), { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

export function dateTime(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : new Intl.DateTimeFormat(language(), { dateStyle: 'short', timeStyle: 'medium' }).format(d);
}

const statusEl = () => document.getElementById('status');
const alertEl = () => document.getElementById('alert');

/** Whether the status message stays through the next page change. */
let carry = false;

/** A polite message for screen readers and sighted users alike; `keep` when a page change follows at once. */
export function announce(message, keep = false) {
  carry = keep;
  alertEl().textContent = '';
  statusEl().textContent = '';
  // Set after clearing, in a later task, so the same message twice is read twice.
  setTimeout(() => (statusEl().textContent = message), 0);
}

export function alertMessage(message) {
  statusEl().textContent = '';
  alertEl().textContent = message;
}

export function clearMessages() {
  statusEl().textContent = '';
  alertEl().textContent = '';
}

/** On a page change: messages belong to the page they were said on, unless carried over. */
export function pageChanged() {
  alertEl().textContent = '';
  if (!carry) statusEl().textContent = '';
  carry = false;
}
