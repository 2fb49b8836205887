/**
 * `--env-file` and restarts. Deno loads an env file at process start and
 * never overrides a variable that is already set; a child inherits the
 * reloader's environment, which holds the values the reloader loaded at
 * its own start. So that an edited `.env` reaches the next child, the
 * reloader hands children its environment without the variables that came
 * from its env files, and each child loads the files afresh. Which files
 * the flags name is `envFilePaths()` in `watch/startup_files.ts`.
 *
 * @module
 */

const ENV_LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*?)\s*$/;

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
    const inner = value.slice(1, -1);
    return quote === '"' ? inner.replaceAll("\\n", "\n") : inner;
  }
  return value.replace(/\s+#.*$/, "");
}

/**
 * Reads the variables an env file defines.
 *
 * @param text The file's content.
 * @returns Name → value.
 */
export function parseEnvFile(text: string): Map<string, string> {
  const variables = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = line.replace(/\r$/, "").match(ENV_LINE);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      variables.set(match[1], unquote(match[2]));
    }
  }
  return variables;
}

/**
 * Reads what the env files gave this process at its start.
 *
 * @param paths The env files.
 * @returns Name → value, later files first as Deno does not override.
 */
export function snapshotEnvFiles(paths: string[]): Map<string, string> {
  const snapshot = new Map<string, string>();
  for (const path of paths) {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      // Any error is fine: Deno warns and goes on whatever stops it reading an
      // env file (missing, a directory, a symlink loop, a name too long, which
      // is a plain Error), so a file this cannot read gave nothing either.
      continue;
    }
    for (const [name, value] of parseEnvFile(text)) {
      if (!snapshot.has(name)) snapshot.set(name, value);
    }
  }
  return snapshot;
}

/**
 * The environment for a child: this process's, without the variables whose
 * values came from the env files.
 *
 * @param env This process's environment.
 * @param fromFiles What the env files gave it, from {@linkcode snapshotEnvFiles}.
 * @returns The child's environment.
 */
export function childEnvironment(
  env: Record<string, string>,
  fromFiles: ReadonlyMap<string, string>,
): Record<string, string> {
  const result = { ...env };
  for (const [name, value] of fromFiles) {
    if (result[name] === value) delete result[name];
  }
  return result;
}
