// Unix-socket -> TCP bridges, run inside the lab's core namespace: the lab process (in the root
// namespace) reaches the control plane, Prometheus and the DNS server's metrics through files in its
// state directory (unix sockets live in the filesystem, which namespaces share), so the root namespace
// gets no address, route or link of the lab's.
//   node bridge.mjs '[{"sock":"/tmp/lab/cp.sock","host":"10.90.0.1","port":8080}]'
import { rmSync } from 'node:fs';
import net from 'node:net';

const routes = JSON.parse(process.argv[2] ?? '[]');
const servers = routes.map(({ sock, host, port }) => {
  rmSync(sock, { force: true });
  const srv = net.createServer((c) => {
    const u = net.connect({ host, port });
    c.pipe(u).pipe(c);
    const end = () => {
      c.destroy();
      u.destroy();
    };
    c.on('error', end);
    u.on('error', end);
    c.on('close', end);
    u.on('close', end);
  });
  srv.listen(sock);
  return srv;
});
process.stdout.write('bridge ready\n');
const stop = () => {
  for (const s of servers) s.close();
  for (const r of routes) rmSync(r.sock, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
