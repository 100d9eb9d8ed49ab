// GETs one URL over a single kept-alive connection, once per line read on stdin, and writes each answer
// as one JSON line ({status, body}) on stdout. For reading a server whose accept count is the thing
// measured: after the first request, reading it opens no new connection.
//   node keepalive-get.mjs <url>
import http from 'node:http';
import { createInterface } from 'node:readline';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: keepalive-get.mjs <url>\n');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const lines = createInterface({ input: process.stdin });
lines.on('line', () => {
  http
    .get(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => process.stdout.write(`${JSON.stringify({ status: res.statusCode, body })}\n`));
    })
    .on('error', (err) => process.stdout.write(`${JSON.stringify({ error: String(err) })}\n`));
});
lines.on('close', () => {
  agent.destroy();
  process.exit(0);
});
