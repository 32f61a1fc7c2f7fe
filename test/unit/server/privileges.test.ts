// What serve decides about its identity before it starts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupServiceAccount, planPrivileges } from '../../../src/server/privileges.js';

test('no "user": root runs on (with a warning at start), anyone else stays as is', () => {
  assert.deepEqual(planPrivileges(undefined, undefined, 0), { kind: 'root' });
  assert.deepEqual(planPrivileges(undefined, undefined, 1000), { kind: 'stay' });
});

test('"user": root drops to it, the user itself stays, another user is refused', () => {
  const plan = planPrivileges('nobody', undefined, 0);
  assert.equal(plan.kind, 'drop');
  if (plan.kind === 'drop') {
    assert.equal(plan.account.uid, 65534);
    assert.ok(plan.account.groups.includes(plan.account.gid));
  }
  assert.deepEqual(planPrivileges('nobody', undefined, 65534), { kind: 'stay' });
  assert.throws(() => planPrivileges('nobody', undefined, 1234), /"user": "nobody" is configured, but serve runs as UID 1234, which cannot become nobody/);
});

test('unknown users and groups, and root as the service user, are refused with the fix', () => {
  assert.throws(() => lookupServiceAccount('no-such-user-here'), /no such user on this machine \(make one: useradd --system/);
  assert.throws(() => lookupServiceAccount('nobody', 'no-such-group-here'), /"group": "no-such-group-here" in postino\.json: no such group/);
  assert.throws(() => lookupServiceAccount('root'), /is root \(UID 0\)/);
  assert.throws(() => lookupServiceAccount('nobody', 'root'), /"group": the group of the service account would be root \(GID 0\)/);
  assert.equal(lookupServiceAccount('nobody', 'nogroup').gid, 65534, 'a group may be named');
});
