/**
 * The console's page and its assets, served from the directory the console
 * build writes (server/dist/console-ui). Every path that names no file gets
 * the page itself, so the page's own routes (`/schemas/agent.task.created`)
 * survive a reload. Files are read once and kept; hashed assets are cached
 * for good, the page never.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the console build puts its output, next to the server's compiled code. */
export const CONSOLE_UI_DIR = fileURLToPath(new URL("../console-ui", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
  ".map": "application/json; charset=utf-8",
};

/**
 * Everything the page may load comes from this server: no CDN, no font
 * service, so the console works offline and a compromised dependency cannot
 * send data elsewhere. Trace links open in a new tab, which the policy allows.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly immutable: boolean;
}

/** The built page and its assets. */
export class StaticAssets {
  readonly #assets = new Map<string, Asset>();
  readonly #index: Asset | undefined;

  /** Loads every file under `dir`; an absent build leaves only a page that says so. */
  constructor(dir: string = CONSOLE_UI_DIR) {
    if (existsSync(dir)) {
      for (const file of walk(dir)) {
        const path = `/${relative(dir, file).split(sep).join("/")}`;
        this.#assets.set(path, {
          body: readFileSync(file),
          type: CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
          immutable: path.startsWith("/assets/"),
        });
      }
    }
    this.#index = this.#assets.get("/index.html");
  }

  /** True when the console build was found. */
  get built(): boolean {
    return this.#index !== undefined;
  }

  /** Answers a GET for `path`. */
  serve(path: string, response: ServerResponse): void {
    const asset = this.#assets.get(path) ?? (path.startsWith("/assets/") ? undefined : this.#index);
    const common = { "content-security-policy": CONTENT_SECURITY_POLICY, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" };
    if (asset === undefined) {
      const text = this.built ? "not found\n" : "the console was not built: run `npm install` (or `npm run build -w console`) in the repository\n";
      response.writeHead(this.built ? 404 : 503, { ...common, "content-type": "text/plain; charset=utf-8" });
      response.end(text);
      return;
    }
    response.writeHead(200, {
      ...common,
      "content-type": asset.type,
      "content-length": asset.body.length,
      "cache-control": asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    response.end(asset.body);
  }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
