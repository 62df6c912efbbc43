/**
 * Raw TCP clients for the connection-limit tests: many sockets opened in
 * bursts, each burst connected before the next starts, as clients arriving
 * over a few moments would (one burst of thousands of SYNs tests the
 * kernel's accept queue rather than the server).
 */
import { connect, type Socket } from "node:net";

/** Sockets opened by {@link openSockets}, and how many of them have closed. */
export interface OpenedSockets {
  readonly sockets: Socket[];
  closed(): number;
  /** Destroys every socket. */
  destroy(): void;
}

/**
 * Opens `count` sockets to `host:port` in bursts of `burst`; `first` is
 * written on each once it connects (nothing when absent: a silent client).
 */
export async function openSockets(host: string, port: number, count: number, options: { burst?: number; first?: string } = {}): Promise<OpenedSockets> {
  const burst = options.burst ?? 100;
  const sockets: Socket[] = [];
  let closed = 0;
  for (let opened = 0; opened < count; opened += burst) {
    const connected: Promise<void>[] = [];
    for (let i = 0; i < Math.min(burst, count - opened); i++) {
      const socket = connect(port, host);
      socket.on("error", () => undefined);
      socket.once("close", () => (closed += 1));
      connected.push(
        new Promise<void>((resolve) => {
          socket.once("connect", () => {
            if (options.first !== undefined) socket.write(options.first);
            resolve();
          });
          socket.once("close", () => resolve());
        }),
      );
      sockets.push(socket);
    }
    await Promise.all(connected);
  }
  return { sockets, closed: () => closed, destroy: () => sockets.forEach((s) => s.destroy()) };
}
