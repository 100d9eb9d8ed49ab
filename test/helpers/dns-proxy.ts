// A UDP man-in-the-middle for DNS tests: forwards each query to an upstream server and hands the
// answer to `alter`, which may return it changed (a tampered signature) or replaced (a replayed old
// answer; the query's ID is put in). It stands between a validating resolver and sluice to show the
// resolver rejects what an attacker could send. UDP only: the answers in these tests are small.
import dgram from 'node:dgram';

export type Alter = (query: Buffer, answer: Buffer) => Buffer;

export interface DnsProxy {
  port: number;
  close(): Promise<void>;
}

export async function startDnsProxy(upstreamPort: number, alter: Alter): Promise<DnsProxy> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (query, client) => {
    const up = dgram.createSocket('udp4');
    const timer = setTimeout(() => up.close(), 5000);
    up.on('message', (answer) => {
      clearTimeout(timer);
      up.close();
      const out = Buffer.from(alter(query, answer));
      out.writeUInt16BE(query.readUInt16BE(0), 0);
      sock.send(out, client.port, client.address);
    });
    up.send(query, upstreamPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  return { port: sock.address().port, close: () => new Promise((r) => sock.close(() => r())) };
}
