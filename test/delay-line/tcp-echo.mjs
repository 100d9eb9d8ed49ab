// Tiny TCP echo server for delay-line tests: `node tcp-echo.mjs HOST PORT`. Prints "listening" when ready.
// Every byte received is written straight back, so a ping-pong client keeps ACKs piggybacked on data
// (no delayed-ACK inflation of the kernel's srtt on either side).
import { createServer } from 'node:net';

const [host = '0.0.0.0', port = '0'] = process.argv.slice(2);
const server = createServer((c) => {
  c.setNoDelay(true);
  c.on('data', (d) => c.write(d));
  c.on('error', () => c.destroy());
});
server.listen(Number(port), host, () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
