// TCP ping-pong client for delay-line tests:
//   node tcp-pingpong.mjs HOST PORT CONNECTIONS [LOCAL_ADDRESS ...]
// Opens CONNECTIONS connections (round-robin over the local addresses, if given), and on each sends one
// byte as soon as the previous echo arrives. Prints "connected N" once all are up, then every second a
// line "rtt_ms <median application RTT>". Runs until killed.
import { connect } from 'node:net';

const [host, port, count = '1', ...locals] = process.argv.slice(2);
const n = Number(count);
let up = 0;
const samples = [];
for (let i = 0; i < n; i++) {
  const localAddress = locals.length ? locals[i % locals.length] : undefined;
  const s = connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
  s.setNoDelay(true);
  let sent = 0;
  s.on('connect', () => {
    if (++up === n) process.stdout.write(`connected ${n}\n`);
    sent = performance.now();
    s.write('x');
  });
  s.on('data', () => {
    samples.push(performance.now() - sent);
    sent = performance.now();
    s.write('x');
  });
  s.on('error', (e) => {
    process.stderr.write(`connection ${i}: ${e.message}\n`);
    process.exit(1);
  });
}
setInterval(() => {
  if (!samples.length) return;
  const sorted = samples.splice(0).sort((a, b) => a - b);
  process.stdout.write(`rtt_ms ${sorted[sorted.length >> 1].toFixed(2)}\n`);
}, 1000);
process.on('SIGTERM', () => process.exit(0));
