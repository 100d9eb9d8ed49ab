// A child process holding N idle TCP connections to one server (tests of connection limits and
// memory). It runs apart from the test so that its open-files limit can be raised by the shell
// (`ulimit -n`) without touching the test runner's. Connections come from 127.0.0.2, .3, … in turn
// so a single source address never runs short of ports.
//
// argv: HOST PORT COUNT [INFLIGHT]. stdout: one JSON line {"open":N,"closed":K,"failed":F} when every
// connection has been attempted (a connect not completed within 5 s counts as failed), and again
// whenever the server closes some. Closes everything and
// exits when stdin ends (the test finished or died).
import net from 'node:net';

const [host = '127.0.0.1', portText = '0', countText = '0', inflightText = '8'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const sockets: net.Socket[] = [];
let open = 0;
let closed = 0;
let failed = 0;
let reported = false;

const report = () => process.stdout.write(`${JSON.stringify({ open, closed, failed })}\n`);

function connectOne(i: number): Promise<void> {
  return new Promise((resolve) => {
    const localAddress = `127.0.0.${2 + (i % 50)}`;
    const s = net.connect({ host, port, localAddress });
    let connected = false;
    // A connect the server never completes (a full accept queue) counts as failed after 5 s.
    const timer = setTimeout(() => {
      failed++;
      s.destroy();
      resolve();
    }, 5_000);
    s.on('connect', () => {
      clearTimeout(timer);
      connected = true;
      open++;
      resolve();
    });
    s.on('error', () => {
      if (!connected) {
        clearTimeout(timer);
        failed++;
        resolve();
      }
    });
    s.on('close', () => {
      if (!connected) return;
      open--;
      closed++;
      if (reported) report();
    });
    s.on('data', () => {}); // nothing is expected; never let data pile up unread
    sockets.push(s);
  });
}

// A few connects in flight at a time (default 8): a server with a short listen backlog (knot's is 10)
// would otherwise drop SYNs, and the kernel retries them only after a second or more.
const INFLIGHT = Math.max(1, Number(inflightText));
for (let i = 0; i < count; i += INFLIGHT) {
  await Promise.all(Array.from({ length: Math.min(INFLIGHT, count - i) }, (_, k) => connectOne(i + k)));
}
reported = true;
report();
process.stdin.resume();
process.stdin.on('end', () => {
  for (const s of sockets) s.destroy();
  process.exit(0);
});
