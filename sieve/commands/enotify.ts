// enotify (RFC 5435) with the mailto method (RFC 5436): notify,
// valid_notify_method and notify_method_capability.
import type { CommandSpec, TestSpec } from '../compile/spec.js';
import { FLOW_NEXT, SieveRuntimeError } from '../runtime/runtime.js';
import type { NotifyAction } from '../runtime/actions.js';
import { buildMatcher, matchTags } from './common.js';

const ADDR = /^[^\s@<>()",;:\\[\]]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** Checks a mailto: URI (RFC 6068) well enough to refuse garbage; returns an error text or undefined. */
export function checkMailto(uri: string): string | undefined {
  const m = /^mailto:([^?]*)(\?.*)?$/i.exec(uri);
  if (!m) return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri) ? `notify method '${uri.split(':')[0]}' is not supported` : `invalid notify method URI '${uri}'`;
  let to: string;
  try {
    to = decodeURIComponent(m[1] ?? '');
  } catch {
    return `invalid mailto URI '${uri}'`;
  }
  const addrs = to === '' ? [] : to.split(',');
  for (const a of addrs) if (!ADDR.test(a.trim())) return `invalid recipient '${a}' in mailto URI`;
  const query = m[2]?.slice(1);
  if (query)
    for (const kv of query.split('&')) {
      const [k = '', v = ''] = kv.split('=');
      if (!/^[A-Za-z0-9-]+$/.test(k)) return `invalid header in mailto URI '${uri}'`;
      let body: string;
      try {
        body = decodeURIComponent(v);
      } catch {
        return 'mailto URI: invalid header field body';
      }
      // As Pigeonhole: header values in the URI must be printable ASCII (no raw 8-bit text).
      if (k.toLowerCase() !== 'body' && !/^[\x20-\x7e\t]*$/.test(body)) return 'mailto URI: invalid header field body';
    }
  // A URI with no recipient at all is accepted, as Pigeonhole only warns
  // about it: the notify is an action that sends nothing (delivery skips it).
  return undefined;
}

export const notify: CommandSpec = {
  kind: 'command',
  name: 'notify',
  ext: 'enotify',
  tags: [
    { name: 'from', arg: 'string' },
    { name: 'importance', arg: 'string' },
    { name: 'options', arg: 'stringlist' },
    { name: 'message', arg: 'string' },
  ],
  args: ['string'],
  compile(p) {
    const method = p.str(0);
    if (method.constant !== undefined) {
      const err = checkMailto(method.constant);
      if (err) p.fail(err, p.argPos(0));
    }
    const importance = p.tagStr('importance');
    if (importance?.constant !== undefined && !['1', '2', '3'].includes(importance.constant))
      p.fail(`invalid :importance '${importance.constant}' (use "1", "2" or "3")`, p.tagPos('importance'));
    const from = p.tagStr('from');
    const options = p.tagList('options');
    const message = p.tagStr('message');
    const { line, col } = p.node.pos;
    return (rt) => {
      const m = method.ev(rt);
      const err = checkMailto(m);
      if (err) throw new SieveRuntimeError(err, line, col);
      const a: NotifyAction = { type: 'notify', method: m };
      if (from) a.from = from.ev(rt);
      if (importance) a.importance = importance.ev(rt);
      if (options) a.options = options.ev(rt);
      if (message) a.message = message.ev(rt);
      rt.addAction(a, p.node.pos);
      return FLOW_NEXT;
    };
  },
};

export const validNotifyMethod: TestSpec = {
  kind: 'test',
  name: 'valid_notify_method',
  ext: 'enotify',
  tags: [],
  args: ['stringlist'],
  compile(p) {
    const uris = p.list(0);
    return (rt) => uris.ev(rt).every((u) => checkMailto(u) === undefined);
  },
};

export const notifyMethodCapability: TestSpec = {
  kind: 'test',
  name: 'notify_method_capability',
  ext: 'enotify',
  tags: matchTags,
  args: ['string', 'string', 'stringlist'],
  compile(p) {
    const uri = p.str(0);
    const cap = p.str(1);
    const m = buildMatcher(p, 2);
    return (rt) => {
      if (checkMailto(uri.ev(rt)) !== undefined) return false;
      // RFC 5436 section 2.1: mailto cannot know whether the recipient is online.
      return cap.ev(rt).toLowerCase() === 'online' ? m.test(rt, ['maybe']) : false;
    };
  },
};
