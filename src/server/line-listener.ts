// A TCP/TLS listener for line protocols (IMAP now; POP3 and ManageSieve can
// reuse it): plain with a STARTTLS upgrade, or implicit TLS; a per-IP
// connection cap; idle timeouts. The protocol session gets bytes in and
// writes through the LineConnection; it never sees the socket.
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { ConnectionLimit } from '../net/connection-limit.js';
import type { ListenAddress } from './listen-address.js';

/** Responses of one batch up to this size are copied into one buffer before writing. */
const COALESCE_MAX = 256 * 1024;

export interface LineConnection {
  readonly remoteAddress: string;
  /** TLS is active (implicit, or after startTls). */
  readonly secure: boolean;
  /**
   * Writes in order; resolves once the socket wants more (backpressure).
   * `written`, if given, is called once the socket no longer needs `data`
   * (written out, copied, or never to be written): then its memory may be used again.
   */
  write(data: Buffer[], written?: () => void): Promise<void>;
  /** Upgrades the plain connection to TLS (the caller has sent its "go ahead"). */
  startTls(): Promise<void>;
  /** From now on both directions are raw DEFLATE (IMAP COMPRESS, RFC 4978). */
  startCompression(): void;
  readonly compressed: boolean;
  /** No bytes in either direction for this long calls onTimeout. */
  setIdleTimeout(ms: number): void;
  close(): void;
}

export interface ConnectionHandler {
  onData(data: Buffer): void;
  onTimeout(): void;
  onClose(): void;
  /** The listener is closing: say goodbye and close. */
  shutdown?(): void;
}

export interface LineListenerOptions {
  address: ListenAddress;
  port: number;
  tls: { cert: Buffer; key: Buffer };
  implicitTls: boolean;
  maxConnectionsPerIp: number;
  /** Sent before closing a connection over the per-IP cap. */
  tooManyMessage?: Buffer;
  /** All connections of the service together (shared by listeners of one service). */
  connectionLimit?: ConnectionLimit;
  /** Sent before closing a connection over connectionLimit. */
  busyMessage?: Buffer;
  onConnection(conn: LineConnection): ConnectionHandler;
  onError?(err: unknown): void;
}

class SocketConnection implements LineConnection {
  private socket: net.Socket;
  private tlsActive: boolean;
  private closed = false;
  handler: ConnectionHandler | undefined;
  private readonly onDataBound = (d: Buffer) => this.handler?.onData(d);

  constructor(
    socket: net.Socket,
    secure: boolean,
    private readonly context: tls.SecureContext,
    private readonly onGone: () => void,
    private readonly onError: (err: unknown) => void,
  ) {
    this.socket = socket;
    this.tlsActive = secure;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.attach(socket);
    socket.once('close', () => this.gone());
  }

  readonly remoteAddress: string;

  get secure(): boolean {
    return this.tlsActive;
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onDataBound);
    socket.on('error', (err) => {
      // Resets and TLS failures are routine on the internet; only note them.
      this.onError(err);
      socket.destroy();
    });
    socket.on('timeout', () => this.handler?.onTimeout());
  }

  private gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone();
    this.handler?.onClose();
  }

  private deflate: zlib.DeflateRaw | undefined;

  get compressed(): boolean {
    return this.deflate !== undefined;
  }

  startCompression(): void {
    if (this.deflate) return;
    const socket = this.socket;
    // A small window keeps an idle compressed session cheap; any window is valid for the peer.
    const deflate = zlib.createDeflateRaw({ windowBits: 12, memLevel: 6 });
    const inflate = zlib.createInflateRaw();
    socket.removeListener('data', this.onDataBound);
    socket.on('data', (d: Buffer) => inflate.write(d));
    inflate.on('data', this.onDataBound);
    const fail = (err: unknown) => {
      this.onError(err);
      socket.destroy();
    };
    inflate.on('error', fail);
    deflate.on('error', fail);
    deflate.on('data', (d: Buffer) => {
      if (!socket.destroyed) socket.write(d);
    });
    socket.once('close', () => {
      inflate.destroy();
      deflate.destroy();
    });
    this.deflate = deflate;
  }

  async write(data: Buffer[], written?: () => void): Promise<void> {
    if (this.closed || this.socket.destroyed) {
      written?.();
      return;
    }
    if (this.deflate) {
      const deflate = this.deflate;
      for (const b of data) deflate.write(b);
      // Each batch of responses goes out whole: sync-flush, as RFC 4978 asks.
      await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      written?.();
    } else if (data.length === 1) {
      // The socket calls back once it is done with a buffer (written, or failed on a closing socket).
      this.socket.write(data[0]!, written);
    } else {
      // One write per batch: over TLS each write is a record and a syscall of its own.
      let total = 0;
      for (const b of data) total += b.length;
      if (total <= COALESCE_MAX) {
        this.socket.write(Buffer.concat(data, total));
        written?.();
      } else {
        this.socket.cork();
        data.forEach((b, i) => this.socket.write(b, i === data.length - 1 ? written : undefined));
        this.socket.uncork();
      }
    }
    if (this.socket.writableNeedDrain && !this.socket.destroyed) await this.drained();
  }

  /**
   * Waits until the client has read what was sent. Meanwhile nothing is read
   * from it: a client that does not read our answers while it keeps sending
   * would otherwise pile up its input, and our output, in memory.
   */
  private async drained(): Promise<void> {
    const socket = this.socket;
    socket.pause();
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
    if (!socket.destroyed) socket.resume();
  }

  async startTls(): Promise<void> {
    if (this.tlsActive) throw new Error('TLS is already active');
    const plain = this.socket;
    plain.removeListener('data', this.onDataBound);
    const timeout = plain.timeout;
    const secure = new tls.TLSSocket(plain, { isServer: true, secureContext: this.context });
    this.socket = secure;
    this.attach(secure);
    if (timeout) {
      plain.setTimeout(0);
      secure.setTimeout(timeout);
    }
    await once(secure, 'secure');
    this.tlsActive = true;
  }

  setIdleTimeout(ms: number): void {
    this.socket.setTimeout(ms);
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never reads must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

const tlsUpdaters = new WeakMap<net.Server, (material: { cert: Buffer; key: Buffer }) => void>();

/** Connections accepted from now on use this certificate; open ones keep theirs (SIGHUP after a renewal). */
export function updateListenerTls(server: net.Server, material: { cert: Buffer; key: Buffer }): void {
  tlsUpdaters.get(server)?.(material);
}

/** Starts listening; resolves once bound. server.close() also asks open sessions to end. */
export async function startLineListener(options: LineListenerOptions): Promise<net.Server> {
  let context = tls.createSecureContext({ cert: options.tls.cert, key: options.tls.key });
  const perIp = new Map<string, number>();
  const open = new Set<SocketConnection>();
  const onError = options.onError ?? (() => {});

  const limit = options.connectionLimit ?? new ConnectionLimit(Infinity);
  /** Sockets refused by the caps: no session for them. */
  const refused = new WeakSet<net.Socket>();

  // The caps apply from the TCP accept on, before any TLS handshake: a
  // socket that never completes one holds a descriptor and memory too.
  const admit = (socket: net.Socket) => {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    const over = count >= options.maxConnectionsPerIp ? 'address' : !limit.tryOpen() ? 'total' : undefined;
    if (over) {
      refused.add(socket);
      socket.on('error', () => {});
      const message = over === 'address' ? options.tooManyMessage : options.busyMessage;
      // On an implicit-TLS port a clear-text reply would be noise: just close.
      if (message && !options.implicitTls) socket.end(message);
      else socket.destroy();
      // A client that does not read the refusal must not keep the socket.
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    perIp.set(ip, count + 1);
    socket.once('close', () => {
      limit.close();
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n <= 0) perIp.delete(ip);
      else perIp.set(ip, n);
    });
  };

  const accept = (socket: net.Socket, secure: boolean) => {
    if (refused.has(socket)) return;
    socket.setNoDelay(true);
    const conn: SocketConnection = new SocketConnection(
      socket,
      secure,
      context,
      () => open.delete(conn),
      onError,
    );
    open.add(conn);
    try {
      conn.handler = options.onConnection(conn);
    } catch (err) {
      onError(err);
      socket.destroy();
    }
  };

  const server = options.implicitTls
    ? tls.createServer({ cert: options.tls.cert, key: options.tls.key }, (s) => accept(s, true))
    : net.createServer((s) => accept(s, false));
  if (options.implicitTls) server.on('tlsClientError', (err, s) => {
    onError(err);
    s.destroy();
  });
  server.on('error', onError);
  tlsUpdaters.set(server, (material) => {
    context = tls.createSecureContext({ cert: material.cert, key: material.key });
    if (server instanceof tls.Server) server.setSecureContext({ cert: material.cert, key: material.key });
  });
  // Before the listener that starts a session (or a TLS handshake) sees the socket.
  server.prependListener('connection', admit);

  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    close(cb);
    for (const c of open) {
      if (c.handler?.shutdown) c.handler.shutdown();
      else c.close();
    }
    return server;
  }) as typeof server.close;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port, host: options.address.host, ipv6Only: options.address.ipv6Only }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
