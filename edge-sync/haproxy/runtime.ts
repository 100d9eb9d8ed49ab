// HAProxy runtime API client: one command per connection on the admin (stats) socket, which is how
// HAProxy's non-interactive mode works (the server closes after answering). Unix path or HOST:PORT.
import { connect, type Socket } from 'node:net';
import { parseHostPort } from '../../model/primitives.ts';

export class RuntimeApiError extends Error {
  override name = 'RuntimeApiError';
}

export class HaproxyRuntime {
  constructor(
    readonly socket: string,
    readonly timeoutMs = 5000,
  ) {}

  private open(): Socket {
    if (this.socket.includes('/')) return connect({ path: this.socket });
    const hp = parseHostPort(this.socket);
    if (!hp) throw new RuntimeApiError(`admin_socket "${this.socket}" is neither a unix socket path nor HOST:PORT`);
    return connect({ host: hp.host, port: hp.port });
  }

  /** Sends one command, returns the whole answer. */
  async send(command: string): Promise<string> {
    if (/[\n;]/.test(command)) throw new RuntimeApiError(`refusing a command with a newline or ";": ${JSON.stringify(command)}`);
    return new Promise<string>((resolve, reject) => {
      let sock: Socket;
      try {
        sock = this.open();
      } catch (err) {
        reject(err);
        return;
      }
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new RuntimeApiError(`no answer from ${this.socket} to "${command}" within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      sock.on('connect', () => sock.end(`${command}\n`));
      sock.on('data', (d: Buffer) => chunks.push(d));
      sock.on('error', (err) => {
        clearTimeout(timer);
        reject(new RuntimeApiError(`${this.socket}: ${err.message}`));
      });
      sock.on('close', () => {
        clearTimeout(timer);
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
  }

  /**
   * Sends a command whose success answer is known; anything else is an error carrying HAProxy's text
   * (e.g. "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.").
   */
  async expect(command: string, ok: (answer: string) => boolean): Promise<string> {
    const answer = await this.send(command);
    if (!ok(answer.trim())) throw new RuntimeApiError(`"${command}" failed: ${answer.trim() || '(empty answer)'}`);
    return answer;
  }
}
