/**
 * Drives a real terminal for tests: a tmux server of its own (`-L`), one
 * session per terminal, keys sent with `send-keys`, the screen read with
 * `capture-pane`.
 */

const decoder = new TextDecoder();

/** True when tmux is installed. */
export function haveTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Shell-quotes one word. */
export function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A private tmux server. */
export class Tmux {
  readonly socket = `berth-test-${crypto.randomUUID().slice(0, 8)}`;

  async #tmux(args: string[]): Promise<string> {
    const r = await new Deno.Command("tmux", { args: ["-L", this.socket, ...args] }).output();
    if (!r.success) {
      throw new Error(`tmux ${args.join(" ")}: ${decoder.decode(r.stderr).trim()}`);
    }
    return decoder.decode(r.stdout);
  }

  /** Starts terminal `name` (cols×rows) running bash with `env`. */
  async start(name: string, env: Record<string, string>, cols = 100, rows = 30): Promise<void> {
    const e = Object.entries({ ...env, PS1: "$ ", TERM: "xterm" }).flatMap(([k, v]) => [
      "-e",
      `${k}=${v}`,
    ]);
    await this.#tmux([
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(cols),
      "-y",
      String(rows),
      ...e,
      "bash --norc --noprofile",
    ]);
  }

  /** Types `text` literally, then Enter. */
  async line(name: string, text: string): Promise<void> {
    await this.#tmux(["send-keys", "-t", name, "-l", text]);
    await this.#tmux(["send-keys", "-t", name, "Enter"]);
  }

  /** Sends tmux key names (`C-p`, `C-q`, `Enter`). */
  async keys(name: string, ...keys: string[]): Promise<void> {
    await this.#tmux(["send-keys", "-t", name, ...keys]);
  }

  /** The screen and scroll-back of `name`, wrapped lines joined. */
  capture(name: string): Promise<string> {
    return this.#tmux(["capture-pane", "-p", "-J", "-S", "-500", "-t", name]);
  }

  /** The pane's terminal device (the slave berth runs on). */
  async paneTty(name: string): Promise<string> {
    return (await this.#tmux(["display-message", "-p", "-t", name, "#{pane_tty}"])).trim();
  }

  /** Resizes terminal `name`. */
  async resize(name: string, cols: number, rows: number): Promise<void> {
    await this.#tmux(["resize-window", "-t", name, "-x", String(cols), "-y", String(rows)]);
  }

  /** Waits until the screen of `name` matches `re`; returns the screen. */
  async waitFor(name: string, re: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.capture(name);
      if (re.test(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(`terminal ${name}: timed out waiting for ${re}; screen:\n${screen}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Ends the server and every terminal. */
  async kill(): Promise<void> {
    await this.#tmux(["kill-server"]).catch(() => {});
  }
}
