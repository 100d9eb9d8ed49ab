// Socket constants shared by the users of lib/libc.ts (the agent's netlink dump, DNS's batched UDP),
// from the Linux UAPI headers: ABI, the same on x86-64 and arm64. A module of its own so that
// importing a constant never loads koffi.
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_RCVBUF = 8;
