// Asking V8 for a collection while a client streams a large message.
//
// Every chunk read from a socket is a fresh buffer, and smtp-server copies
// each one once more. V8 collects those only when about 64 MB of them have
// piled up, so a 1 GB DATA raises the process's peak memory by that much
// even though nothing holds on to the data. Collecting every few megabytes
// of a large message keeps the peak near what is really held. A minor
// collection with little live data costs well under a millisecond.
import v8 from 'node:v8';
import vm from 'node:vm';

type Gc = (options?: { type?: 'major' | 'minor' }) => void;

let gc: Gc | null | undefined;

function collector(): Gc | null {
  if (gc === undefined) {
    try {
      // gc() without starting node with --expose-gc: a context made after the
      // flag is set has it.
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as Gc;
    } catch {
      gc = null;
    }
  }
  return gc;
}

/** Minor: the young buffers just read. Major: also data held long enough to be promoted, once let go. */
export function collectGarbage(type: 'major' | 'minor'): void {
  collector()?.({ type });
}
