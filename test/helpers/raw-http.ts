// Raw HTTP/1.1 over a TCP socket, for what fetch and node:http refuse to send: malformed escapes,
// request lines and headers over any limit, invalid framing, bytes trickled one by one.
import { connect } from 'node:net';

export interface RawResponse {
  head: string;
  /** 0 when the server closed without answering. */
  status: number;
  headers: Headers;
  body: string;
}

/** Sends `request` on a fresh connection, half-closes, and reads until the server closes. */
export function rawExchange(baseUrl: string, request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const sock = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(request.toString('latin1').slice(0, 120))}`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      if (chunks.length === 0 && (err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') {
        clearTimeout(timer);
        reject(err);
      }
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(parseRawResponse(Buffer.concat(chunks).toString('utf8')));
    });
    sock.on('connect', () => sock.end(request));
  });
}

export function parseRawResponse(text: string): RawResponse {
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const lines = head.split('\r\n');
  const headers = new Headers();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
  }
  let body = split < 0 ? '' : text.slice(split + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) body = dechunk(body);
  return { head, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0), headers, body };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}
