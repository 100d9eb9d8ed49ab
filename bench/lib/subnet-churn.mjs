// Makes an agent see N distinct client addresses over loopback, a batch at a time, for the agent
// benchmark's "100k subnets" memory figure (with ipv4_prefix 32, one address is one subnet):
//   node subnet-churn.mjs N PORT [BATCH]
// Listens on 127.0.0.1:PORT; connects BATCH clients, each from its own address 127.1.0.1 + i; prints
// "batch K" once they are all up; on a "next" line from stdin resets them (RST: no TIME_WAIT left behind)
// and connects the next batch; prints "done" after the last batch and exits when stdin closes or on
// SIGTERM. A batch needs 2 x BATCH file descriptors (both ends live here): BATCH defaults to 8000.
import { createServer, connect } from 'node:net';
import { createInterface } from 'node:readline';

const n = Number(process.argv[2] ?? 100_000);
const port = Number(process.argv[3] ?? 18090);
const batchSize = Number(process.argv[4] ?? 8000);
const server = createServer((c) => c.on('error', () => c.destroy()));
server.maxConnections = batchSize + 100;

const address = (i) => {
  const a = (1 << 16) + 1 + i; // 127.1.0.1 upward
  return `127.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`;
};

let next = 0;
let batch = 0;
let clients = [];

function openBatch() {
  const end = Math.min(n, next + batchSize);
  const want = end - next;
  let up = 0;
  let started = next;
  const k = ++batch;
  const one = () => {
    if (started >= end) return;
    const i = started++;
    const s = connect({ host: '127.0.0.1', port, localAddress: address(i) });
    s.on('connect', () => {
      clients.push(s);
      if (++up === want) process.stdout.write(`batch ${k} ${end}\n`);
      one();
    });
    s.on('error', (e) => {
      process.stderr.write(`connect from ${address(i)}: ${e.message}\n`);
      process.exit(1);
    });
  };
  next = end;
  for (let j = 0; j < Math.min(500, want); j++) one();
}

server.listen({ port, host: '127.0.0.1', backlog: 4096 }, openBatch);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'next') return;
  for (const s of clients) s.resetAndDestroy();
  clients = [];
  if (next >= n) process.stdout.write('done\n');
  else openBatch();
});
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
