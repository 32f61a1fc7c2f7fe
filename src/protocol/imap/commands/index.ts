// The registry: every command by name (UID forms as "UID FETCH").
import type { ImapCommand } from '../command.js';
import { capabilityCommand } from './capability.js';
import { noopCommand, checkCommand } from './noop.js';
import { logoutCommand } from './logout.js';
import { starttlsCommand } from './starttls.js';
import { loginCommand } from './login.js';
import { authenticateCommand } from './authenticate.js';
import { idCommand } from './id.js';
import { enableCommand } from './enable.js';
import { namespaceCommand } from './namespace.js';
import { selectCommand, examineCommand } from './select.js';
import { createCommand } from './create.js';
import { deleteCommand } from './delete.js';
import { renameCommand } from './rename.js';
import { subscribeCommand, unsubscribeCommand } from './subscribe.js';
import { listCommand, lsubCommand } from './list.js';
import { statusCommand } from './status.js';
import { appendCommand } from './append.js';
import { getquotaCommand, getquotarootCommand, setquotaCommand } from './quota.js';
import { closeCommand, unselectCommand } from './close.js';
import { expungeCommand, uidExpungeCommand } from './expunge.js';
import { idleCommand } from './idle.js';
import { copyCommand, uidCopyCommand, moveCommand, uidMoveCommand } from './copy.js';
import { fetchCommand, uidFetchCommand } from './fetch.js';
import { storeCommand, uidStoreCommand } from './store.js';
import { searchCommand, uidSearchCommand } from './search.js';
import { cancelUpdateCommand } from './cancelupdate.js';
import { sortCommand, uidSortCommand } from './sort.js';
import { threadCommand, uidThreadCommand } from './thread.js';
import { compressCommand } from './compress.js';
import { getmetadataCommand, setmetadataCommand } from './metadata.js';
import { notifyCommand } from './notify.js';

// Each command keeps its own argument type; the registry only needs parse's output to reach run.
const erase = <A>(c: ImapCommand<A>): ImapCommand<unknown> => c as unknown as ImapCommand<unknown>;

const all: Array<ImapCommand<unknown>> = [
  erase(capabilityCommand),
  erase(noopCommand),
  erase(checkCommand),
  erase(logoutCommand),
  erase(starttlsCommand),
  erase(loginCommand),
  erase(authenticateCommand),
  erase(idCommand),
  erase(enableCommand),
  erase(namespaceCommand),
  erase(selectCommand),
  erase(examineCommand),
  erase(createCommand),
  erase(deleteCommand),
  erase(renameCommand),
  erase(subscribeCommand),
  erase(unsubscribeCommand),
  erase(listCommand),
  erase(lsubCommand),
  erase(statusCommand),
  erase(appendCommand),
  erase(getquotaCommand),
  erase(getquotarootCommand),
  erase(setquotaCommand),
  erase(closeCommand),
  erase(unselectCommand),
  erase(expungeCommand),
  erase(uidExpungeCommand),
  erase(idleCommand),
  erase(notifyCommand),
  erase(copyCommand),
  erase(uidCopyCommand),
  erase(moveCommand),
  erase(uidMoveCommand),
  erase(fetchCommand),
  erase(uidFetchCommand),
  erase(storeCommand),
  erase(uidStoreCommand),
  erase(searchCommand),
  erase(uidSearchCommand),
  erase(cancelUpdateCommand),
  erase(sortCommand),
  erase(uidSortCommand),
  erase(threadCommand),
  erase(uidThreadCommand),
  erase(compressCommand),
  erase(getmetadataCommand),
  erase(setmetadataCommand),
];

export const COMMANDS: ReadonlyMap<string, ImapCommand<unknown>> = new Map(all.map((c) => [c.name, c]));
