// Every command and test, by name. Adding an extension = one file + one line here.
import type { CommandSpec, TestSpec } from '../compile/spec.js';
import { address, discard, exists, header, keep, redirect, size, stop } from './core.js';
import { fileinto } from './fileinto.js';
import { ereject, reject } from './reject.js';
import { envelope } from './envelope.js';
import { vacation } from './vacation.js';
import { addflag, hasflag, removeflag, setflag } from './imap4flags.js';
import { body } from './body.js';
import { set, string } from './variables.js';
import { currentdate, date } from './date.js';
import { mailboxexists } from './mailbox.js';
import { addheader, deleteheader } from './editheader.js';
import { global, include, returnCommand } from './include.js';
import { duplicate } from './duplicate.js';
import { spamtest, virustest } from './spamtest.js';
import { environment } from './environment.js';
import { error, ihave } from './ihave.js';
import { notify, notifyMethodCapability, validNotifyMethod } from './enotify.js';
import { impliedCapabilities, knownCapabilityNames } from './capabilities.js';

const commands: CommandSpec[] = [
  stop, keep, discard, redirect, fileinto, reject, ereject, vacation, setflag, addflag, removeflag,
  set, addheader, deleteheader, include, returnCommand, global, error, notify,
];
const tests: TestSpec[] = [
  exists, header, address, size, envelope, hasflag, body, string, date, currentdate, mailboxexists,
  duplicate, spamtest, virustest, environment, ihave, validNotifyMethod, notifyMethodCapability,
];

export const commandSpecs: ReadonlyMap<string, CommandSpec> = new Map(commands.map((c) => [c.name, c]));
export const testSpecs: ReadonlyMap<string, TestSpec> = new Map(tests.map((t) => [t.name, t]));
export const knownCapabilities = knownCapabilityNames;
export const extensionOf = { implies: impliedCapabilities };
