// The UDP paths `sluice dns` can serve with (config `udp_io`). DNS tests run against each, so both
// paths are held to the same behaviour; the batched one exists only where its ABI is known.
import { supportsBatchedUdp } from '../../dns/server/udp-batched/linux-abi.ts';

export const UDP_IO_PATHS: readonly ('recvmmsg' | 'dgram')[] = supportsBatchedUdp() ? ['recvmmsg', 'dgram'] : ['dgram'];
