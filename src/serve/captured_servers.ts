/**
 * The servers a program starts, as devsrv captures them: each gets an index
 * in the order the program starts it, a public address (what the program
 * is told it listens on) and the address it really listens on.
 *
 * Two placements exist. In the reloader's child every server listens on a
 * loopback port of the child's choosing and is reported to the parent,
 * which owns the public port. In a single process (`--no-reload`) a server
 * listens on its public address itself, as production would.
 *
 * @module
 */

import { socketFile } from "../channel/backend_sockets.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import {
  type AddressOverrides,
  publicHost,
  publicPort,
  type RequestedAddress,
} from "../listen/public_address.ts";

/** Who started a server: `Deno.serve`, `node:http(s)`, or devsrv for the app. */
export type ServerKind = "deno" | "node" | "devsrv";

/** What a program asked for when it started a server. */
export interface ServerRequest extends RequestedAddress {
  /** The API it used. */
  kind: ServerKind;
  /** The certificate and key it gave, when it asked for HTTPS. */
  tls: TlsFiles | undefined;
}

/** An address to bind or to report. */
export interface Address {
  hostname: string;
  port: number;
}

/** A server that has started listening. */
export interface CapturedServer {
  /** 0 for the first server the program started. */
  readonly index: number;
  /** What the program asked for. */
  readonly requested: ServerRequest;
  /** What the program is told (`server.addr`, `onListen`). */
  readonly public: Address;
  /** Where it really listens (unused when it listens on `socketPath`). */
  readonly bound: Address;
  /** The Unix socket it listens on instead, in the `hidden` placement. */
  readonly socketPath: string | undefined;
  /** Stops it: no new connections, in-flight requests finish. */
  stop(): Promise<void>;
}

/** How servers are placed, and where each is reported once it listens. */
export interface Placement {
  /** `hidden`: loopback port, parent owns the public one; `public`: bind it here. */
  readonly mode: "hidden" | "public";
  /** `--host` and `--port`. */
  readonly overrides: AddressOverrides;
  /** Public ports the parent already owns, by server index. */
  readonly assigned: readonly (number | null)[];
  /**
   * `hidden`: the private directory where `Deno.serve` servers listen on
   * Unix sockets instead of loopback ports (`undefined`: loopback ports).
   */
  readonly socketDir?: string | undefined;
  /** Called once per server, when it listens. */
  onListening(server: CapturedServer): void;
  /**
   * Called when a server cannot bind its address (`public` placement): a
   * port in use, say. Without it the program gets the error, as under
   * `deno run`.
   */
  onBindError?: (error: unknown, address: Address) => void;
  /** Called when a server that listened has closed (the program shut it down). */
  onClosed?: (server: CapturedServer) => void;
  /**
   * Called when the program starts a server on a Unix socket: it runs as
   * under `deno run`, on its own path, not fronted.
   */
  onUnixSocket?: (path: string) => void;
}

/** A server being started: where to bind it and how to finish. */
export interface Slot {
  readonly index: number;
  /** Where to listen. */
  readonly bindTo: Address;
  /**
   * Where a `Deno.serve` server listens instead of `bindTo` in the `hidden`
   * placement with a socket directory: a Unix socket path.
   */
  readonly socketPath: string | undefined;
  /**
   * What the program is told, known before it listens in the `hidden`
   * placement; `undefined` in the `public` one, where it is the bound address.
   */
  readonly shown: Address | undefined;
  /**
   * Records that the server listens.
   *
   * @param bound The address it really got.
   * @param stop Stops it gracefully.
   * @returns What to tell the program.
   */
  listening(bound: Address, stop: () => Promise<void>): Address;
  /**
   * Reports that binding failed.
   *
   * @param error What the runtime threw or emitted.
   */
  bindFailed(error: unknown): void;
  /** Reports that the server, which listened, has closed. */
  closed(): void;
}

/** The registry of one process's captured servers. */
export class CapturedServers {
  #placement: Placement;
  /** Servers that listen now. */
  #servers: CapturedServer[] = [];
  /** Indexes whose server the program closed, with the public address they had. */
  #closed = new Map<number, Address>();
  /** The public port of each server index this process has reported. */
  #reported = new Map<number, number>();
  #started = 0;
  /** Stops the program's Unix-socket servers, which run as the program started them. */
  #unixSockets: (() => Promise<void>)[] = [];
  /** Socket files made so far: a server started again gets a new one. */
  #sockets = 0;

  /** @param placement How to place and where to report. */
  constructor(placement: Placement) {
    this.#placement = placement;
  }

  /** How many servers the program has started (listening or not yet). */
  get started(): number {
    return this.#started;
  }

  /**
   * Whether the program has started any server: one devsrv captured, or
   * one on a Unix socket.
   */
  get anyStarted(): boolean {
    return this.#started > 0 || this.#unixSockets.length > 0;
  }

  /**
   * Records a server the program started on a Unix socket, left as it
   * is: it is stopped with the others (a graceful stop removes its socket
   * file, so that the next generation can bind the same path).
   *
   * @param path The socket's path.
   * @param stop Stops it gracefully.
   */
  unixSocket(path: string, stop: () => Promise<void>): void {
    this.#unixSockets.push(stop);
    this.#placement.onUnixSocket?.(path);
  }

  /** Stops for the program's Unix-socket servers. */
  get unixSocketStops(): readonly (() => Promise<void>)[] {
    return this.#unixSockets;
  }

  /** The servers that listen now, in the order they were started. */
  get servers(): readonly CapturedServer[] {
    return this.#servers;
  }

  /**
   * Takes the index for a server the program starts: the next one, or the
   * one of a server it closed on the same address (a program that stops
   * its server and starts it again keeps its public port).
   *
   * @param requested What it asked for.
   * @returns Where to bind it, and how to report it.
   * @throws {Deno.errors.AddrInUse} In the `hidden` placement, when the
   * public address is taken (by another server of the program, or by
   * another process), as the program would get it from Deno.
   */
  start(requested: ServerRequest): Slot {
    const placement = this.#placement;
    const host = publicHost(requested, placement.overrides);
    const wanted = publicPort(this.#started, requested, placement.overrides);
    const reused = [...this.#closed].find(([, address]) =>
      address.hostname === host && address.port === wanted && wanted !== 0
    )?.[0];
    const index = reused ?? this.#started;
    const assigned = placement.assigned[index] ?? undefined;
    const asked = publicPort(index, requested, placement.overrides);
    const hidden = placement.mode === "hidden";
    // A later generation asking for another port that is taken gets the
    // error Deno would give it (a program falling back to a next port
    // then asks for the one it is served on); a free one is noted by the parent.
    if (
      hidden && assigned !== undefined && asked !== assigned && asked !== 0 &&
      !isFree(host, asked)
    ) {
      throw addressInUse(host, asked);
    }
    const port = assigned ?? asked;
    // The program may read its address before it listens, so a hidden
    // server's public port is settled now, a free one found if it asked for any.
    const shown = hidden
      ? { hostname: host, port: this.#hiddenPublicPort(index, host, port) }
      : undefined;
    if (reused === undefined) this.#started++;
    this.#closed.delete(index);
    const bindTo = hidden ? { hostname: "127.0.0.1", port: 0 } : { hostname: host, port };
    const socketPath = hidden && placement.socketDir !== undefined && requested.kind !== "node"
      ? socketFile(placement.socketDir, ++this.#sockets)
      : undefined;
    return {
      index,
      bindTo,
      socketPath,
      shown,
      listening: (bound, stop) => {
        const server = { index, requested, public: shown ?? bound, bound, socketPath, stop };
        this.#servers.push(server);
        this.#reported.set(index, server.public.port);
        placement.onListening(server);
        return server.public;
      },
      bindFailed: (error) => placement.onBindError?.(error, bindTo),
      closed: () => {
        const server = this.#servers.find((server) => server.index === index);
        if (!server) return;
        this.#servers = this.#servers.filter((other) => other !== server);
        this.#closed.set(index, server.public);
        placement.onClosed?.(server);
      },
    };
  }

  /**
   * The public port of a hidden server, checked as the system would check a
   * bind: a port another server of the program has, or one another process
   * listens on, is in use; a port the parent owns for this index is not.
   */
  #hiddenPublicPort(index: number, host: string, port: number): number {
    if (port === 0) return freePort(host);
    const assigned = this.#placement.assigned;
    const taken =
      this.#servers.some((server) =>
        server.public.port === port && server.public.hostname === host
      ) || assigned.some((owned, other) => owned === port && other !== index);
    if (taken) throw addressInUse(host, port);
    // The parent owns the port of a server this process reported: no probe.
    const owned = assigned[index] === port || this.#reported.get(index) === port;
    if (!owned && !isFree(host, port)) throw addressInUse(host, port);
    return port;
  }
}

/** The public addresses refused to the program, by the error it was given. */
const refusedAddresses = new WeakMap<object, Address>();

/**
 * Records that an error given to the program means devsrv refused it a
 * public address that is taken (Node's `EADDRINUSE` error is made from
 * the `AddrInUse` that {@linkcode CapturedServers.start} throws).
 *
 * @param error The error the program gets.
 * @param address The public address it could not have.
 */
export function markRefusedAddress(error: object, address: Address): void {
  refusedAddresses.set(error, address);
}

/**
 * The public address a program was refused, when this is the error it
 * got for it: left uncaught, it is reported as the taken port it is.
 *
 * @param error Any value the program threw or left unhandled.
 * @returns The address, or `undefined` for any other value.
 */
export function refusedAddress(error: unknown): Address | undefined {
  return typeof error === "object" && error !== null ? refusedAddresses.get(error) : undefined;
}

/** The error Deno throws for a taken address. */
function addressInUse(hostname: string, port: number): Deno.errors.AddrInUse {
  const error = new Deno.errors.AddrInUse(
    `Address already in use (os error 98): ${hostname}:${port}`,
  );
  markRefusedAddress(error, { hostname, port });
  return error;
}

/** Whether a port can be bound on a host now (the parent binds it right after the report). */
function isFree(hostname: string, port: number): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

/**
 * Stops every captured server gracefully, bounded by a grace period.
 *
 * @param registry The registry.
 * @param graceMs How long in-flight requests may take, in ms.
 * @returns Whether all stopped within the grace period.
 */
export async function stopServers(registry: CapturedServers, graceMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) =>
    timer = setTimeout(() => resolve(false), graceMs)
  );
  try {
    const stops = [...registry.servers.map((server) => server.stop), ...registry.unixSocketStops];
    const all = Promise.all(stops.map((stop) => stop())).then(() => true);
    return await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Finds a port that is free on a host now, for a program that asked for
 * any free port: the parent binds it right after the report.
 */
function freePort(hostname: string): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
