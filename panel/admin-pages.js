// The administrators' pages: domains, a domain's mailboxes (the virtual
// list), one mailbox, aliases, the queue, DNS records and the audit log.
// Each gets the panel's context (api, t, h, show, ...) from app.js.

const MiB = 1024 * 1024;

/** Quota field text (MiB) to bytes; empty is no limit. */
function quotaBytes(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  const n = Number(s.replace(',', '.'));
  return Number.isFinite(n) ? Math.round(n * MiB) : s;
}

function domainOf(address) {
  return address.slice(address.lastIndexOf('@') + 1);
}

function usageCell(c, account) {
  const text = account.quota === null ? c.bytes(account.usage) : c.t('accounts.usageOf', { usage: c.bytes(account.usage), quota: c.bytes(account.quota) });
  if (account.quota === null || account.quota <= 0) return c.h('td', {}, text);
  // <meter> is announced as a gauge with its value; the text says the same for everyone.
  return c.h(
    'td',
    { class: 'usage' },
    c.h('meter', { min: 0, max: account.quota, low: account.quota * 0.8, high: account.quota * 0.95, optimum: 0, value: Math.min(account.usage, account.quota), 'aria-label': text }),
    c.h('span', {}, text),
  );
}

async function domainsPage(c) {
  const domains = await c.api('GET', '/domains');
  const superadmin = c.principal().kind === 'superadmin';
  const rows = domains.map((d) =>
    c.h(
      'tr',
      {},
      c.h('th', { scope: 'row' }, c.h('a', { href: `#/domain/${c.seg(d.domain)}` }, d.domain)),
      c.h('td', {}, String(d.accounts)),
      c.h('td', {}, String(d.aliases)),
      c.h(
        'td',
        { class: 'actions' },
        c.h('a', { href: `#/aliases/${c.seg(d.domain)}`, 'aria-label': c.t('domains.aliasesOf', { domain: d.domain }) }, c.t('domains.aliases')),
        ' ',
        c.h('a', { href: `#/dns/${c.seg(d.domain)}`, 'aria-label': c.t('domains.dnsOf', { domain: d.domain }) }, 'DNS'),
        superadmin
          ? c.h(
              'button',
              {
                type: 'button',
                class: 'danger',
                'aria-label': c.t('domains.remove', { domain: d.domain }),
                onclick: async () => {
                  if (!confirm(c.t('domains.confirmRemove', { domain: d.domain }))) return;
                  try {
                    await c.api('DELETE', `/domains/${c.seg(d.domain)}`);
                    c.announce(c.t('domains.removed', { domain: d.domain }));
                    await domainsPage(c);
                  } catch (err) {
                    c.report(err);
                  }
                },
              },
              c.t('action.remove'),
            )
          : null,
      ),
    ),
  );
  const list = domains.length
    ? c.table(c.t('domains.title'), [c.t('domains.domain'), c.t('domains.accounts'), c.t('domains.aliases'), c.t('domains.links')], rows)
    : c.h('p', {}, c.t('domains.empty'));
  let form = null;
  if (superadmin) {
    form = c.h(
      'form',
      { id: 'add-domain' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('domains.add')),
        c.field(c.t('domains.domain'), { name: 'domain', required: true, autocomplete: 'off', placeholder: 'example.org' }),
        c.field(c.t('domains.postmaster'), { name: 'postmaster', type: 'email', required: true, autocomplete: 'off', placeholder: 'postmaster@example.org' }),
        c.field(c.t('domains.postmasterPassword'), { name: 'password', type: 'password', autocomplete: 'new-password' }),
        c.h('button', { type: 'submit' }, c.t('domains.submit')),
      ),
    );
    c.onSubmit(form, async (data) => {
      const body = { domain: data.get('domain').trim(), postmaster: data.get('postmaster').trim() };
      if (data.get('password')) body.password = data.get('password');
      await c.api('POST', '/domains', body);
      c.announce(c.t('domains.added', { domain: body.domain }));
      await domainsPage(c);
    });
  }
  c.show(c.t('domains.title'), list, form);
}

async function domainPage(c, domain) {
  const accounts = await c.api('GET', `/domains/${c.seg(domain)}/accounts`);
  const rows = accounts.map((a) =>
    c.h(
      'tr',
      { class: a.disabled ? 'disabled' : undefined },
      c.h('th', { scope: 'row' }, c.h('a', { href: `#/account/${c.seg(a.address)}`, 'aria-label': c.t('accounts.edit', { address: a.address }) }, a.address)),
      usageCell(c, a),
      c.h('td', {}, String(a.messages ?? '')),
      c.h('td', {}, a.disabled ? c.t('accounts.disabled') : c.t('accounts.active')),
    ),
  );
  const list = accounts.length
    ? c.table(c.t('accounts.title', { domain }), [c.t('accounts.address'), c.t('accounts.usage'), c.t('accounts.messages'), c.t('accounts.state')], rows)
    : c.h('p', {}, c.t('accounts.empty'));
  const form = c.h(
    'form',
    { id: 'add-account' },
    c.h(
      'fieldset',
      {},
      c.h('legend', {}, c.t('accounts.add')),
      c.field(c.t('accounts.address'), { name: 'address', type: 'email', required: true, autocomplete: 'off', placeholder: `name@${domain}` }),
      c.field(c.t('accounts.password'), { name: 'password', type: 'password', required: true, autocomplete: 'new-password' }),
      c.field(c.t('accounts.quotaMiB'), { name: 'quota', inputmode: 'decimal', autocomplete: 'off' }),
      c.h('button', { type: 'submit' }, c.t('accounts.submit')),
    ),
  );
  c.onSubmit(form, async (data) => {
    const address = data.get('address').trim();
    await c.api('POST', '/accounts', { address, password: data.get('password'), quota: quotaBytes(data.get('quota')) });
    c.announce(c.t('accounts.added', { address }));
    await domainPage(c, domain);
  });
  const links = c.h(
    'ul',
    { class: 'links' },
    c.h('li', {}, c.h('a', { href: `#/aliases/${c.seg(domain)}` }, c.t('accounts.toAliases'))),
    c.h('li', {}, c.h('a', { href: `#/dns/${c.seg(domain)}` }, c.t('accounts.toDns'))),
  );
  c.show(c.t('accounts.title', { domain }), links, list, form);
}

async function accountPage(c, address) {
  const account = await c.api('GET', `/accounts/${c.seg(address)}`);
  const domain = domainOf(account.address);
  const patch = async (body, message) => {
    await c.api('PATCH', `/accounts/${c.seg(address)}`, body);
    c.announce(message);
    await accountPage(c, address);
  };
  const passwordForm = c.onSubmit(
    c.h(
      'form',
      { id: 'account-password' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('account.passwordLegend')),
        c.field(c.t('account.newPassword'), { name: 'password', type: 'password', required: true, autocomplete: 'new-password' }),
        c.h('button', { type: 'submit' }, c.t('account.setPassword')),
      ),
    ),
    (data) => patch({ password: data.get('password') }, c.t('account.passwordChanged')),
  );
  const quotaForm = c.onSubmit(
    c.h(
      'form',
      { id: 'account-quota' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('account.quotaLegend')),
        c.field(c.t('accounts.quotaMiB'), { name: 'quota', inputmode: 'decimal', autocomplete: 'off', value: account.quota === null ? '' : String(+(account.quota / MiB).toFixed(3)) }),
        c.h('button', { type: 'submit' }, c.t('account.setQuota')),
      ),
    ),
    (data) => patch({ quota: quotaBytes(data.get('quota')) }, c.t('account.quotaChanged')),
  );
  const stateForm = c.onSubmit(
    c.h(
      'form',
      { id: 'account-state' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('account.stateLegend')),
        c.h('p', {}, account.disabled ? c.t('account.isDisabled') : c.t('account.isActive')),
        c.h('button', { type: 'submit' }, account.disabled ? c.t('account.enable') : c.t('account.disable')),
      ),
    ),
    () => patch({ disabled: !account.disabled }, c.t(account.disabled ? 'account.enabledNow' : 'account.disabledNow', { address })),
  );
  const removeForm = c.onSubmit(
    c.h(
      'form',
      { id: 'account-remove' },
      c.h('fieldset', {}, c.h('legend', {}, c.t('account.removeLegend')), c.h('button', { type: 'submit', class: 'danger' }, c.t('account.remove'))),
    ),
    async () => {
      if (!confirm(c.t('account.confirmRemove', { address }))) return;
      await c.api('DELETE', `/accounts/${c.seg(address)}`);
      c.announce(c.t('account.removed', { address }), true);
      c.go(`#/domain/${c.seg(domain)}`);
    },
  );
  const quotaText = account.quota === null ? c.t('accounts.unlimited') : c.bytes(account.quota);
  c.show(
    c.t('account.title', { address: account.address }),
    c.h('p', {}, c.h('a', { href: `#/domain/${c.seg(domain)}` }, c.t('account.back', { domain }))),
    c.h('p', {}, c.t('account.summary', { usage: c.bytes(account.usage ?? 0), quota: quotaText, messages: account.messages ?? 0 })),
    passwordForm,
    quotaForm,
    stateForm,
    removeForm,
  );
}

async function aliasesPage(c, domain) {
  const aliases = await c.api('GET', `/domains/${c.seg(domain)}/aliases`);
  const form = c.h(
    'form',
    { id: 'alias-form' },
    c.h(
      'fieldset',
      {},
      c.h('legend', {}, c.t('aliases.formLegend')),
      c.field(c.t('aliases.address'), { name: 'address', type: 'email', required: true, autocomplete: 'off', placeholder: `info@${domain}` }),
      c.field(c.t('aliases.targets'), { tag: 'textarea', name: 'targets', required: true, rows: 4 }, c.t('aliases.targetsHint')),
      c.h('button', { type: 'submit' }, c.t('aliases.save')),
    ),
  );
  c.onSubmit(form, async (data) => {
    const address = data.get('address').trim();
    const targets = String(data.get('targets'))
      .split(/[\n,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    await c.api('PUT', `/aliases/${c.seg(address)}`, { targets });
    c.announce(c.t('aliases.saved', { address }));
    await aliasesPage(c, domain);
  });
  const rows = aliases.map((a) =>
    c.h(
      'tr',
      {},
      c.h('th', { scope: 'row' }, a.address),
      c.h('td', {}, a.targets.join(', ')),
      c.h(
        'td',
        { class: 'actions' },
        c.h(
          'button',
          {
            type: 'button',
            'aria-label': c.t('aliases.edit', { address: a.address }),
            onclick: () => {
              form.querySelector('[name=address]').value = a.address;
              form.querySelector('[name=targets]').value = a.targets.join('\n');
              form.querySelector('[name=targets]').focus();
            },
          },
          c.t('action.edit'),
        ),
        ' ',
        c.h(
          'button',
          {
            type: 'button',
            class: 'danger',
            'aria-label': c.t('aliases.remove', { address: a.address }),
            onclick: async () => {
              if (!confirm(c.t('aliases.confirmRemove', { address: a.address }))) return;
              try {
                await c.api('DELETE', `/aliases/${c.seg(a.address)}`);
                c.announce(c.t('aliases.removed', { address: a.address }));
                await aliasesPage(c, domain);
              } catch (err) {
                c.report(err);
              }
            },
          },
          c.t('action.remove'),
        ),
      ),
    ),
  );
  const list = aliases.length
    ? c.table(c.t('aliases.title', { domain }), [c.t('aliases.address'), c.t('aliases.targets'), c.t('aliases.actions')], rows)
    : c.h('p', {}, c.t('aliases.empty'));
  c.show(c.t('aliases.title', { domain }), c.h('p', {}, c.h('a', { href: `#/domain/${c.seg(domain)}` }, c.t('account.back', { domain }))), list, form);
}

async function queuePage(c) {
  const entries = await c.api('GET', '/queue');
  const act = (method, path, id) => async () => {
    if (method === 'DELETE' && !confirm(c.t('queue.confirmDelete', { id }))) return;
    try {
      await c.api(method, path);
      c.announce(c.t('queue.done', { id }));
      await queuePage(c);
    } catch (err) {
      c.report(err);
    }
  };
  const rows = entries.map((e) =>
    c.h(
      'tr',
      {},
      c.h('th', { scope: 'row' }, c.h('code', { class: 'id' }, e.id)),
      c.h('td', {}, e.sender || '<>'),
      c.h(
        'td',
        {},
        c.h('ul', { class: 'plain' }, (e.states ?? e.recipients.map((address) => ({ address, status: '' }))).map((r) => c.h('li', {}, `${r.address} ${r.status ?? ''}`.trim()))),
      ),
      c.h('td', {}, c.t('queue.seconds', { n: e.age })),
      c.h('td', {}, e.reason ?? ''),
      c.h('td', {}, e.held ? c.t('queue.held') : c.t('queue.waiting'), e.lastError ? c.h('div', { class: 'hint' }, e.lastError) : null),
      c.h(
        'td',
        { class: 'actions' },
        e.held
          ? c.h('button', { type: 'button', 'aria-label': c.t('queue.release', { id: e.id }), onclick: act('POST', `/queue/${c.seg(e.id)}/release`, e.id) }, c.t('action.release'))
          : c.h('button', { type: 'button', 'aria-label': c.t('queue.hold', { id: e.id }), onclick: act('POST', `/queue/${c.seg(e.id)}/hold`, e.id) }, c.t('action.hold')),
        ' ',
        c.h('button', { type: 'button', class: 'danger', 'aria-label': c.t('queue.delete', { id: e.id }), onclick: act('DELETE', `/queue/${c.seg(e.id)}`, e.id) }, c.t('action.delete')),
      ),
    ),
  );
  const toolbar = c.h(
    'p',
    { class: 'toolbar' },
    c.h('button', { type: 'button', id: 'queue-refresh', onclick: () => queuePage(c).catch((err) => c.report(err)) }, c.t('queue.refresh')),
    ' ',
    c.h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            await c.api('POST', '/queue/flush');
            c.announce(c.t('queue.flushed'));
          } catch (err) {
            c.report(err);
          }
        },
      },
      c.t('queue.flush'),
    ),
  );
  const list = entries.length
    ? c.table(
        c.t('queue.title'),
        [c.t('queue.id'), c.t('queue.sender'), c.t('queue.recipients'), c.t('queue.age'), c.t('queue.reason'), c.t('queue.state'), c.t('queue.actions')],
        rows,
      )
    : c.h('p', {}, c.t('queue.empty'));
  c.show(c.t('queue.title'), toolbar, list);
}

/** Copies text; the status region says whether it worked. */
async function copy(c, text) {
  try {
    await navigator.clipboard.writeText(text);
    c.announce(c.t('dns.copied'));
  } catch {
    c.announce(c.t('dns.copyFailed'));
  }
}

/** The domain's DKIM keys and a form to make one (as `postino dkim keygen`). */
function dkimSection(c, domain, keys) {
  const form = c.onSubmit(
    c.h(
      'form',
      { id: 'dkim-form' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('dkim.add')),
        c.field(c.t('dkim.selectorOptional'), { name: 'selector', autocomplete: 'off' }),
        (() => {
          const id = 'dkim-type';
          return c.h(
            'div',
            { class: 'field' },
            c.h('label', { for: id }, c.t('dkim.type')),
            c.h('select', { id, name: 'type' }, c.h('option', { value: 'rsa' }, 'RSA'), c.h('option', { value: 'ed25519' }, 'Ed25519')),
          );
        })(),
        c.h('button', { type: 'submit' }, c.t('dkim.submit')),
      ),
    ),
    async (data) => {
      const body = { type: data.get('type') };
      if (String(data.get('selector') ?? '').trim()) body.selector = String(data.get('selector')).trim();
      const made = await c.api('POST', `/domains/${c.seg(domain)}/dkim`, body);
      c.announce(c.t('dkim.made', { selector: made.selector }));
      await dnsPage(c, domain);
    },
  );
  const list = keys.length
    ? c.table(
        c.t('dkim.title'),
        [c.t('dkim.selector'), c.t('dkim.type'), c.t('dkim.active')],
        keys.map((k) => c.h('tr', {}, c.h('th', { scope: 'row' }, k.selector), c.h('td', {}, k.type), c.h('td', {}, k.active ? c.t('yes') : c.t('no')))),
      )
    : c.h('p', {}, c.t('dkim.none'));
  return c.h('section', { 'aria-labelledby': 'dkim-title' }, c.h('h2', { id: 'dkim-title' }, c.t('dkim.title')), list, form);
}

async function dnsPage(c, domain) {
  const [records, keys] = await Promise.all([c.api('GET', `/domains/${c.seg(domain)}/dns`), c.api('GET', `/domains/${c.seg(domain)}/dkim`)]);
  const rows = records.map((r) =>
    c.h(
      'tr',
      {},
      c.h('td', {}, r.type),
      c.h(
        'td',
        {},
        c.h('code', {}, r.name),
        ' ',
        c.h('button', { type: 'button', class: 'copy', 'aria-label': c.t('dns.copyName', r), onclick: () => copy(c, r.name) }, c.t('dns.copy')),
      ),
      c.h(
        'td',
        {},
        c.h('code', { class: 'value' }, r.value),
        ' ',
        c.h('button', { type: 'button', class: 'copy', 'aria-label': c.t('dns.copyValue', r), onclick: () => copy(c, r.value) }, c.t('dns.copy')),
      ),
      c.h('td', {}, r.purpose),
    ),
  );
  const list = records.length
    ? c.table(c.t('dns.title', { domain }), [c.t('dns.type'), c.t('dns.name'), c.t('dns.value'), c.t('dns.purpose')], rows)
    : c.h('p', {}, c.t('dns.empty'));
  c.show(c.t('dns.title', { domain }), c.h('p', {}, c.t('dns.intro', { domain })), list, dkimSection(c, domain, keys));
}

function isoTime(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function change(entry) {
  const show = (v) => (v === null || v === undefined ? '–' : typeof v === 'string' ? v : JSON.stringify(v));
  if (entry.before === undefined && entry.after === undefined) return '';
  return `${show(entry.before)} → ${show(entry.after)}`;
}

async function auditPage(c) {
  const pageSize = 50;
  const tbody = c.h('tbody', {});
  const more = c.h('button', { type: 'button', id: 'audit-older', hidden: true }, c.t('audit.older'));
  let lastId;
  const load = async () => {
    const query = `?limit=${pageSize}${lastId !== undefined ? `&before=${encodeURIComponent(lastId)}` : ''}`;
    const entries = await c.api('GET', `/audit${query}`);
    for (const e of entries) {
      tbody.append(
        c.h(
          'tr',
          {},
          c.h('td', {}, c.h('time', { datetime: isoTime(e.at) }, c.dateTime(e.at))),
          c.h('td', {}, e.actor),
          c.h('td', {}, e.action),
          c.h('td', {}, e.target ?? ''),
          c.h('td', { class: 'change' }, change(e)),
        ),
      );
    }
    if (entries.length) lastId = entries[entries.length - 1].id;
    more.hidden = entries.length < pageSize;
    return entries.length;
  };
  more.addEventListener('click', () => load().catch((err) => c.report(err)));
  const count = await load();
  const tableEl = c.h(
    'table',
    { id: 'audit-table' },
    c.h('caption', {}, c.t('audit.title')),
    c.h('thead', {}, c.h('tr', {}, [c.t('audit.at'), c.t('audit.actor'), c.t('audit.action'), c.t('audit.target'), c.t('audit.change')].map((x) => c.h('th', { scope: 'col' }, x)))),
    tbody,
  );
  c.show(c.t('audit.title'), count ? tableEl : c.h('p', {}, c.t('audit.empty')), more);
}

export const pages = {
  domains: domainsPage,
  domain: domainPage,
  account: accountPage,
  aliases: aliasesPage,
  queue: queuePage,
  dns: dnsPage,
  audit: auditPage,
};
