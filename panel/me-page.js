// A mail user's own page: password, out-of-office reply (a vacation Sieve
// script written by the API through the ManageSieve store), their filters,
// and the Apple configuration profile.

export async function mePage(c) {
  const [me, vacation, scripts] = await Promise.all([c.api('GET', '/me'), c.api('GET', '/me/vacation'), c.api('GET', '/me/scripts')]);

  const passwordForm = c.onSubmit(
    c.h(
      'form',
      { id: 'me-password' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('me.passwordLegend')),
        c.field(c.t('me.current'), { name: 'current', type: 'password', required: true, autocomplete: 'current-password' }),
        c.field(c.t('me.new'), { name: 'password', type: 'password', required: true, autocomplete: 'new-password' }),
        c.field(c.t('me.repeat'), { name: 'repeat', type: 'password', required: true, autocomplete: 'new-password' }),
        c.h('button', { type: 'submit' }, c.t('me.savePassword')),
      ),
    ),
    async (data) => {
      if (data.get('password') !== data.get('repeat')) {
        const err = new Error(c.t('me.mismatch'));
        err.errors = [{ field: 'repeat', message: c.t('me.mismatch') }];
        throw err;
      }
      await c.api('POST', '/me/password', { current: data.get('current'), password: data.get('password') });
      passwordForm.reset();
      c.announce(c.t('me.passwordChanged'));
    },
  );

  const vacationForm = c.onSubmit(
    c.h(
      'form',
      { id: 'me-vacation' },
      c.h(
        'fieldset',
        {},
        c.h('legend', {}, c.t('me.vacationLegend')),
        c.field(c.t('me.vacEnabled'), { name: 'enabled', type: 'checkbox', checked: vacation.enabled }),
        c.field(c.t('me.vacSubject'), { name: 'subject', value: vacation.subject ?? '', maxlength: 200 }),
        c.field(c.t('me.vacMessage'), { tag: 'textarea', name: 'message', value: vacation.message ?? '', rows: 6 }),
        c.field(c.t('me.vacDays'), { name: 'days', type: 'number', min: 1, max: 365, value: String(vacation.days ?? 7) }),
        c.field(c.t('me.vacFrom'), { name: 'from', type: 'date', value: vacation.from ?? '' }),
        c.field(c.t('me.vacUntil'), { name: 'until', type: 'date', value: vacation.until ?? '' }),
        c.h('button', { type: 'submit' }, c.t('me.vacSave')),
      ),
    ),
    async (data) => {
      const body = {
        enabled: data.get('enabled') !== null,
        subject: String(data.get('subject') ?? ''),
        message: String(data.get('message') ?? ''),
        days: Number(data.get('days') || 7),
      };
      if (data.get('from')) body.from = data.get('from');
      if (data.get('until')) body.until = data.get('until');
      await c.api('PUT', '/me/vacation', body);
      c.announce(c.t('me.vacSaved'));
      await refreshFilters();
    },
  );

  const filters = c.h('section', { 'aria-labelledby': 'filters-title' });
  const renderFilters = (list) => {
    filters.replaceChildren(
      c.h('h2', { id: 'filters-title' }, c.t('me.filters')),
      list.length
        ? c.table(
            c.t('me.filters'),
            [c.t('me.filterName'), c.t('me.filterActive'), c.t('me.filterSize')],
            list.map((s) => c.h('tr', {}, c.h('th', { scope: 'row' }, s.name), c.h('td', {}, s.active ? c.t('yes') : c.t('no')), c.h('td', {}, c.bytes(s.size)))),
          )
        : c.h('p', {}, c.t('me.noFilters')),
    );
  };
  const refreshFilters = async () => renderFilters(await c.api('GET', '/me/scripts'));
  renderFilters(scripts);

  const devices = c.h(
    'section',
    { 'aria-labelledby': 'devices-title' },
    c.h('h2', { id: 'devices-title' }, c.t('me.devices')),
    c.h('p', {}, c.h('a', { href: '/api/v1/me/apple-profile', download: 'postino.mobileconfig', id: 'apple-profile' }, c.t('me.apple'))),
  );

  c.show(
    c.t('me.title'),
    c.h('p', {}, c.t('me.summary', { address: me.address, usage: c.bytes(me.usage ?? 0), quota: me.quota === null || me.quota === undefined ? c.t('accounts.unlimited') : c.bytes(me.quota) })),
    passwordForm,
    vacationForm,
    filters,
    devices,
  );
}
