// Unix-socket -> TCP bridges, run inside the lab's core namespace: the lab process (in the root
// namespace) reaches the control plane, Prometheus and the DNS server's metrics through files in its
// state directory (unix sockets live in the filesystem, which namespaces share), so the root namespace
// gets no address, route or link of the lab's.
//   node bridge.mjs '[{"sock":"/tmp/lab/cp.sock","host":"10.90.0.1","port":8080}]'
// A route may list several targets ("targets":[{host,port},...], e.g. control-plane replicas): each
// connection goes to the first that accepts it, so the lab keeps reaching the API when one dies.
import { rmSync } from 'node:fs';
import net from 'node:net';

const routes = JSON.parse(process.argv[2] ?? '[]');

function connectFirst(targets, i, c) {
  const u = net.connect(targets[i]);
  let connected = false;
  u.once('connect', () => {
    connected = true;
    c.pipe(u).pipe(c);
    c.resume();
    const end = () => {
      c.destroy();
      u.destroy();
    };
    u.on('close', end);
    c.on('close', end);
    c.on('error', end);
  });
  u.on('error', () => {
    u.destroy();
    if (!connected && i + 1 < targets.length) connectFirst(targets, i + 1, c);
    else c.destroy();
  });
}

const servers = routes.map(({ sock, host, port, targets }) => {
  rmSync(sock, { force: true });
  const list = targets ?? [{ host, port }];
  const srv = net.createServer({ pauseOnConnect: true }, (c) => connectFirst(list, 0, c));
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
