/**
 * The reloader's public ports: one front per server of the program, by
 * server index, each bound once and kept for the whole session. A port is
 * bound before any child starts when it is known then (`--port`, a static
 * directory, the library), else when the program's server first listens;
 * a program that failed before any server listened gets a provisional
 * port for its 503 page, which its own port replaces later. The parent's
 * memory is given back after bursts of traffic through them
 * (`front/memory_release.ts`).
 *
 * @module
 */

import type { ListeningReport } from "../channel/messages.ts";
import { DevsrvError, formatError } from "../errors.ts";
import { type Front, type Route, startFront } from "../front/front.ts";
import { type MemoryRelease, startMemoryRelease } from "../front/memory_release.ts";
import { bindError } from "../listen/address.ts";
import { printRunning } from "../listen/banner.ts";
import { narrowedHost, publicHost } from "../listen/public_address.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import { formatAccessLine } from "../access_log.ts";
import type { Logger } from "../log.ts";
import { DEFAULT_PORT, hostOrDefault, type ServeOptions } from "../options.ts";
import { frontPolicy } from "./front_policy.ts";

/** How long a request is held while no child is ready. */
const HOLD_TIMEOUT_MS = 30_000;

/** What the ports need from the session. */
export interface PublicPortsOptions {
  /** `--host`, `--port`, `--quiet`, the Host allow-list and live reload. */
  options: Pick<ServeOptions, "host" | "port" | "quiet" | "allowedHosts" | "liveReload">;
  /** The app's name, for the log. */
  display: string;
  /** `--cert` and `--key`, read. */
  tls: TlsFiles | undefined;
  log: Logger;
  /** Where a request that came in on a server's port goes. */
  route(index: number, target: string): Route;
  /** The live-reload script's URL for a page served now. */
  scriptUrl(): string;
  /** A request is about to be forwarded (see `FrontOptions.onRequestStart`). */
  onRequestStart(target: string): (() => void) | undefined;
  /** The first public port cannot be bound: the session cannot go on. */
  failSession(error: DevsrvError): void;
}

/** The public ports of one reloader session. */
export class PublicPorts {
  readonly #session: PublicPortsOptions;
  readonly #fronts: (Front | undefined)[] = [];
  /**
   * The first front was bound only to show why the program failed before
   * any server listened: the program's own port replaces it.
   */
  #provisional = false;
  /** Requested ports already noted as not served, by server index. */
  readonly #notedPorts = new Set<string>();
  #memoryRelease: MemoryRelease | undefined;
  #firstUrl: string | undefined;

  /** @param session What the ports need from the session. */
  constructor(session: PublicPortsOptions) {
    this.#session = session;
  }

  /** The URL of the first public port, once bound and announced. */
  get firstUrl(): string | undefined {
    return this.#firstUrl;
  }

  /**
   * The public ports the parent owns now, by server index (`null`: none
   * yet), as the next child is told them.
   */
  get ports(): (number | null)[] {
    return this.#fronts.map((front, index) =>
      front && !(index === 0 && this.#provisional) ? front.addr.port : null
    );
  }

  /**
   * Binds the first public port before any child starts, so that a taken
   * port is reported at once.
   *
   * @returns The bound address.
   * @throws {DevsrvError} When the address cannot be bound.
   */
  bindFirst(): Deno.NetAddr {
    const { options, tls } = this.#session;
    return this.#open(0, hostOrDefault(options), options.port ?? DEFAULT_PORT, tls, false).addr;
  }

  /**
   * Prints where the first public port is reached (after the banner),
   * unless a program's server was published, and announced, before it.
   */
  announceFirst(): void {
    const front = this.#fronts[0];
    if (!front || this.#firstUrl !== undefined) return;
    this.#announce(0, hostOrDefault(this.#session.options), front, this.#session.tls);
  }

  /**
   * Serves a program's server on its public port: binds it the first time
   * the server is reported, and notes a later generation that asks for
   * another address.
   *
   * @param report The child's "listening".
   * @returns Whether the port is served.
   */
  publish(report: ListeningReport): boolean {
    const { options, display, log } = this.#session;
    const existing = this.#fronts[report.index];
    if (existing && report.index === 0 && this.#provisional) {
      this.#provisional = false;
      if (existing.addr.port !== report.public.port) {
        this.#fronts[0] = undefined;
        void existing.close();
        return this.publish(report);
      }
    }
    if (existing) {
      const asked = report.requested.port;
      const key = `${report.index}:${asked}`;
      // --port decides the first server's port: what the program asks for is no news.
      const overridden = report.index === 0 && options.port !== undefined;
      if (
        asked !== undefined && asked !== 0 && asked !== existing.addr.port && !overridden &&
        !this.#notedPorts.has(key)
      ) {
        this.#notedPorts.add(key);
        log.info(
          `${display} now asks for port ${asked}; it is still served on ${existing.addr.port} (restart devsrv to move it)`,
        );
      }
      return true;
    }
    const overrides = { host: options.host, port: options.port };
    const requested = { hostname: report.requested.hostname, port: report.requested.port };
    const host = publicHost(requested, overrides);
    const narrowed = narrowedHost(requested, overrides);
    try {
      this.#open(report.index, host, report.public.port, this.#session.tls ?? report.tls);
    } catch (error) {
      if (!(error instanceof DevsrvError)) throw error;
      if (this.#fronts.every((front) => front === undefined)) this.#session.failSession(error);
      else log.error(formatError(error));
      return false;
    }
    if (narrowed) {
      log.info(
        `${display} asks for ${narrowed}; devsrv serves it on ${host} only (use --host ${narrowed} to serve other machines)`,
      );
    }
    return true;
  }

  /**
   * Binds a public port for the 503 page when the program failed before it
   * started any server: `--port`, else 8000. Its own port replaces it later.
   */
  showFailurePage(): void {
    if (this.#fronts.some((front) => front !== undefined)) return;
    const { options, tls, log } = this.#session;
    try {
      this.#open(0, hostOrDefault(options), options.port ?? DEFAULT_PORT, tls);
      this.#provisional = true;
    } catch (error) {
      if (!(error instanceof DevsrvError)) throw error;
      log.warn(`The error page cannot be served: ${error.message}`);
    }
  }

  /**
   * Tells the fronts that routing changed: held requests ask again, idle
   * backend connections are dropped.
   *
   * @param index Only this server's front; every front when not given.
   */
  changed(index?: number): void {
    if (index !== undefined) this.#fronts[index]?.changed();
    else for (const front of this.#fronts) front?.changed();
  }

  /** Closes every front and stops giving memory back. */
  async close(): Promise<void> {
    this.#memoryRelease?.stop();
    await Promise.all(this.#fronts.map((front) => front?.close()));
  }

  #open(
    index: number,
    host: string,
    port: number,
    tls: TlsFiles | undefined,
    announce = true,
  ): Front {
    const { options, log } = this.#session;
    let front: Front;
    try {
      front = startFront({
        hostname: host,
        port,
        ...(tls ? { tls } : {}),
        route: (target) => this.#session.route(index, target),
        holdTimeoutMs: HOLD_TIMEOUT_MS,
        ...frontPolicy(options, () => this.#session.scriptUrl()),
        ...(options.quiet ? {} : { onAccess: (entry) => log.access(formatAccessLine(entry)) }),
        onRequestStart: (target) => this.#session.onRequestStart(target),
      });
    } catch (error) {
      throw bindError(error, host, port);
    }
    this.#fronts[index] = front;
    this.#memoryRelease ??= startMemoryRelease(() =>
      this.#fronts.reduce((sum, front) => sum + (front?.exchanges ?? 0), 0)
    );
    if (announce) this.#announce(index, host, front, tls);
    return front;
  }

  #announce(index: number, host: string, front: Front, tls: TlsFiles | undefined): void {
    const [url] = printRunning(this.#session.log, host, front.addr.port, tls !== undefined);
    if (index === 0 && url) this.#firstUrl = url;
  }
}
