// Holds N established TCP connections on loopback (both ends in this process), for benchmarks:
//   node tcp-hold.mjs N PORT [SUBNETS]
// Listens on 127.0.0.1:PORT and connects N clients from 127.1.<i % SUBNETS>.1, 500 connects in flight at
// a time. Prints "ready N" when all are up; holds them until SIGTERM or stdin closes. Needs ~2N file
// descriptors: start it with a raised `ulimit -n`.
import { createServer, connect } from 'node:net';

const n = Number(process.argv[2] ?? 1000);
const port = Number(process.argv[3] ?? 18080);
const subnets = Number(process.argv[4] ?? 50);
const accepted = [];
const clients = [];
const server = createServer((c) => {
  accepted.push(c);
  c.on('error', () => {});
});
server.maxConnections = n + 10;
server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  let started = 0;
  let up = 0;
  const next = () => {
    if (started >= n) return;
    const i = started++;
    const s = connect({ host: '127.0.0.1', port, localAddress: `127.1.${i % subnets}.1` });
    s.on('connect', () => {
      clients.push(s);
      if (++up === n) process.stdout.write(`ready ${n}\n`);
      next();
    });
    s.on('error', (e) => {
      process.stderr.write(`connect ${i}: ${e.message}\n`);
      process.exit(1);
    });
  };
  for (let k = 0; k < Math.min(500, n); k++) next();
});
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
