// The handful of libc calls sluice needs (the agent's netlink dump, the TUN delay line, the DNS server's
// batched UDP path), bound through koffi. Loaded lazily (and only on Linux) so that importing a parser
// on another OS, or in a unit test, never touches libc.
//
// Pointer arguments take either a Buffer (koffi hands the kernel the Buffer's own memory, no copy) or
// a raw address as a bigint (`koffi.address(buffer)`): the batched UDP path passes addresses of
// preallocated arenas so a call marshals nothing.
import koffi from 'koffi';

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, dest: Buffer | null, destLen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  close(fd: number): number;
  open(path: string, flags: number, mode: number): number;
  read(fd: number, buf: Buffer, len: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  ioctl(fd: number, request: number, arg: Buffer): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  setns(fd: number, nstype: number): number;
  getsockname(fd: number, addr: Buffer, len: Buffer): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: Buffer): number;
  /** `vec` is the address of an `struct mmsghdr[vlen]`; no timeout (the socket is non-blocking). */
  recvmmsg(fd: number, vec: bigint, vlen: number, flags: number): number;
  sendmmsg(fd: number, vec: bigint, vlen: number, flags: number): number;
  /** `fds` is the address of a `struct pollfd[nfds]`. */
  poll(fds: bigint, nfds: number, timeoutMs: number): number;
  eventfd(initval: number, flags: number): number;
  strerror(errnum: number): string;
  errno(): number;
  /** glibc: gives free memory at the top and inside the malloc arenas back to the kernel; 1 when some was. */
  mallocTrim(pad: number): number;
  /** `ts` receives a `struct timespec` (16 bytes: seconds, nanoseconds as 64-bit integers). */
  clockGettime(clock: number, ts: Buffer): number;
  /** Names the calling thread (≤ 15 bytes; `top -H`, /proc/PID/task/TID/comm); 0 when done. */
  setThreadName(name: string): number;
}

let cached: Libc | null = null;

/** Binds libc once per thread (koffi function objects are per isolate). Throws off Linux. */
export function libc(): Libc {
  if (cached) return cached;
  if (process.platform !== 'linux') throw new Error(`libc bindings are Linux-only (platform is ${process.platform})`);
  const lib = koffi.load('libc.so.6');
  // Buffers are passed as `void *`: koffi hands the kernel the Buffer's own memory, no copy.
  const fns = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *dest, uint32_t destlen)'),
    recv: lib.func('long recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    close: lib.func('int close(int fd)'),
    open: lib.func('int open(const char *path, int flags, uint32_t mode)'),
    read: lib.func('long read(int fd, void *buf, size_t len)'),
    write: lib.func('long write(int fd, const void *buf, size_t len)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, void *len)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *value, void *len)'),
    recvmmsg: lib.func('int recvmmsg(int fd, void *vec, unsigned int vlen, int flags, void *timeout)'),
    sendmmsg: lib.func('int sendmmsg(int fd, void *vec, unsigned int vlen, int flags)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    strerror: lib.func('const char *strerror(int errnum)'),
    malloc_trim: lib.func('int malloc_trim(size_t pad)'),
    clock_gettime: lib.func('int clock_gettime(int clock, void *ts)'),
    pthread_self: lib.func('unsigned long pthread_self()'),
    pthread_setname_np: lib.func('int pthread_setname_np(unsigned long thread, const char *name)'),
  };
  cached = {
    socket: (d, t, p) => fns.socket(d, t, p) as number,
    bind: (fd, a, l) => fns.bind(fd, a, l) as number,
    sendto: (fd, b, l, f, d, dl) => Number(fns.sendto(fd, b, l, f, d, dl)),
    recv: (fd, b, l, f) => Number(fns.recv(fd, b, l, f)),
    setsockopt: (fd, lv, n, v, l) => fns.setsockopt(fd, lv, n, v, l) as number,
    close: (fd) => fns.close(fd) as number,
    open: (p, f, m) => fns.open(p, f, m) as number,
    read: (fd, b, l) => Number(fns.read(fd, b, l)),
    write: (fd, b, l) => Number(fns.write(fd, b, l)),
    ioctl: (fd, r, a) => fns.ioctl(fd, r, a) as number,
    fcntl: (fd, c, a) => fns.fcntl(fd, c, a) as number,
    setns: (fd, t) => fns.setns(fd, t) as number,
    getsockname: (fd, a, l) => fns.getsockname(fd, a, l) as number,
    getsockopt: (fd, lv, n, v, l) => fns.getsockopt(fd, lv, n, v, l) as number,
    recvmmsg: (fd, v, n, f) => fns.recvmmsg(fd, v, n, f, null) as number,
    sendmmsg: (fd, v, n, f) => fns.sendmmsg(fd, v, n, f) as number,
    poll: (p, n, t) => fns.poll(p, n, t) as number,
    eventfd: (v, f) => fns.eventfd(v, f) as number,
    strerror: (e) => fns.strerror(e) as string,
    errno: () => koffi.errno(),
    mallocTrim: (pad) => fns.malloc_trim(pad) as number,
    clockGettime: (c, ts) => fns.clock_gettime(c, ts) as number,
    setThreadName: (name) => fns.pthread_setname_np(fns.pthread_self(), name) as number,
  };
  return cached;
}

/** "EPERM (Operation not permitted)"-style text for the last errno. */
export function lastError(c: Libc): string {
  const e = c.errno();
  return `errno ${e} (${c.strerror(e)})`;
}
