// The cap on open connections of one service, all clients together: memory
// and file descriptors are finite whoever the clients are. (The cap per
// client address lives with each listener.) IMAP and IMAPS share one.

export class ConnectionLimit {
  private openConnections = 0;

  constructor(readonly max: number) {}

  /** Counts a connection in; false (and nothing counted) when the cap is reached. */
  tryOpen(): boolean {
    if (this.openConnections >= this.max) return false;
    this.openConnections++;
    return true;
  }

  /** Counts out a connection that tryOpen() counted in. */
  close(): void {
    if (this.openConnections > 0) this.openConnections--;
  }

  get count(): number {
    return this.openConnections;
  }
}
