// The panel: a session check, a router on the URL fragment (#/domains,
// #/domain/example.org, ...) and one function per page. Each page is built
// fresh from the API's answers; after a page change the focus moves to its
// heading so keyboard and screen-reader users start at the top of it.
import { api, ApiError, seg, setCsrfToken } from './api.js';
import { dictionaries, pickLanguage, setLanguage, language, t } from './i18n.js';
import { h, field, table, bytes, dateTime, announce, alertMessage, clearMessages, pageChanged } from './dom.js';
import { pages as adminPages } from './admin-pages.js';
import { mePage } from './me-page.js';

const state = { principal: null };

const main = () => document.getElementById('main');

/** Puts a page in <main>, titles the document and moves the focus to the heading. */
export function show(title, ...content) {
  const heading = h('h1', { tabindex: '-1', id: 'page-title' }, title);
  main().replaceChildren(heading, ...content.filter((part) => part !== null && part !== undefined));
  document.title = `${title} – ${t('app.title')}`;
  heading.focus();
}

/** Reports an API refusal: near the fields it names, and in the alert region. */
export function report(err, form) {
  if (err instanceof ApiError && err.status === 401) {
    state.principal = null;
    go('#/login');
    return;
  }
  const errors = Array.isArray(err?.errors) ? err.errors : [];
  if (form) markFields(form, errors);
  if (!(err instanceof ApiError) && errors.length > 0) {
    alertMessage(err.message);
  } else if (err instanceof ApiError) {
    const detail = err.errors.length > 0 ? err.errors.map((e) => t('error.field', e)).join('; ') : err.message;
    alertMessage(err.status === 403 ? `${t('error.forbidden')} ${detail}` : t('error.generic', { detail }));
  } else if (err instanceof TypeError) {
    alertMessage(t('error.network'));
  } else {
    alertMessage(t('error.generic', { detail: String(err?.message ?? err) }));
  }
}

/** aria-invalid plus a message under each named field ("targets.1" is the field "targets"). */
export function markFields(form, errors) {
  for (const old of form.querySelectorAll('.field-error')) old.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.setAttribute('aria-describedby', input.dataset.hint ?? '');
  }
  let first = null;
  for (const e of errors) {
    const name = String(e.field ?? '').split('.')[0];
    const input = name ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
    if (!input) continue;
    const id = `${input.id}-error`;
    if (!document.getElementById(id)) input.closest('.field')?.append(h('p', { id, class: 'field-error' }, e.message));
    input.dataset.hint = input.dataset.hint ?? input.getAttribute('aria-describedby') ?? '';
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', `${id} ${input.dataset.hint}`.trim());
    first ??= input;
  }
  first?.focus();
}

/** Runs a form's action with its button disabled; reports refusals next to the fields. */
export function onSubmit(form, action) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll('button');
    buttons.forEach((b) => (b.disabled = true));
    clearMessages();
    markFields(form, []);
    try {
      await action(new FormData(form));
    } catch (err) {
      report(err, form);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  });
  return form;
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

export function principal() {
  return state.principal;
}

function loginPage() {
  const form = h(
    'form',
    { id: 'login-form', 'aria-labelledby': 'page-title' },
    field(t('login.username'), { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' }),
    field(t('login.password'), { name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('button', { type: 'submit' }, t('login.submit')),
  );
  onSubmit(form, async (data) => {
    try {
      const session = await api('POST', '/session', { username: data.get('username'), password: data.get('password') });
      await startSession(session);
      announce(t('login.done', { name: session.principal.name }), true);
      go(home());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        alertMessage(t('login.failed', { detail: err.message }));
        form.querySelector('[name=password]').value = '';
        form.querySelector('[name=username]').focus();
        return;
      }
      throw err;
    }
  });
  show(t('login.title'), form);
}

async function startSession(session) {
  state.principal = session.principal;
  setCsrfToken(session.csrfToken);
  renderChrome();
}

function home() {
  return state.principal?.kind === 'user' ? '#/me' : '#/domains';
}

function navLink(hash, text) {
  const current = location.hash === hash || (hash !== '#/' && location.hash.startsWith(hash + '/'));
  return h('li', {}, h('a', { href: hash, 'aria-current': current ? 'page' : undefined }, text));
}

/** The parts outside <main>: navigation, language switch, logout. */
function renderChrome() {
  document.documentElement.lang = language();
  document.getElementById('skip-link').textContent = t('skip');
  document.getElementById('lang-label').textContent = t('language');
  document.getElementById('lang-select').value = language();
  const logout = document.getElementById('logout');
  logout.textContent = t('logout');
  logout.hidden = !state.principal;
  const nav = document.getElementById('nav');
  nav.setAttribute('aria-label', t('nav.label'));
  const p = state.principal;
  const links = !p ? [] : p.kind === 'user' ? [navLink('#/me', t('nav.me'))] : [navLink('#/domains', t('nav.domains')), navLink('#/queue', t('nav.queue')), navLink('#/audit', t('nav.audit'))];
  nav.replaceChildren(links.length ? h('ul', {}, links) : '');
}

const context = { show, report, onSubmit, go, principal, h, field, table, bytes, dateTime, announce, api, seg, t };

async function route() {
  renderChrome();
  const hash = location.hash.startsWith('#/') ? location.hash : '#/';
  const [, name = '', ...rest] = hash.slice(1).split('/');
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  if (!state.principal) {
    loginPage();
    return;
  }
  if (name === '' || name === 'login') {
    go(home());
    return;
  }
  try {
    if (name === 'me') return await mePage(context);
    const page = adminPages[name];
    if (page && state.principal.kind !== 'user') return await page(context, arg);
    show(t('notFound.title'), h('p', {}, h('a', { href: home() }, t('notFound.back'))));
  } catch (err) {
    show(t('notFound.title'));
    report(err);
  }
}

async function start() {
  const stored = localStorage.getItem('postino-lang');
  setLanguage(stored && dictionaries[stored] ? stored : pickLanguage(navigator.languages?.length ? navigator.languages : [navigator.language]));
  document.getElementById('lang-select').addEventListener('change', (event) => {
    setLanguage(event.target.value);
    localStorage.setItem('postino-lang', language());
    route().then(() => document.getElementById('lang-select').focus());
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try {
      await api('DELETE', '/session');
    } catch {
      // Logged out either way.
    }
    state.principal = null;
    setCsrfToken('');
    announce(t('logout.done'), true);
    go('#/login');
  });
  // The fragment is the router's: the skip link moves the focus itself.
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    (document.getElementById('page-title') ?? main()).focus();
  });
  window.addEventListener('hashchange', () => {
    pageChanged();
    route();
  });
  try {
    await startSession(await api('GET', '/session'));
  } catch {
    state.principal = null;
  }
  await route();
}

start();
