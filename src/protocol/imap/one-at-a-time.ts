// Async work of one session that must not overlap with itself (a catch-up
// of the selected view, a NOTIFY take): a call made while another runs
// starts when that one ends, whether it succeeded or failed.
export class OneAtATime {
  private last: Promise<unknown> | undefined;

  run<T>(work: () => Promise<T>): Promise<T> {
    const prev = this.last;
    const next = () => work();
    const run = prev === undefined ? next() : prev.then(next, next);
    this.last = run;
    return run.finally(() => {
      if (this.last === run) this.last = undefined;
    });
  }
}
