// What the scheduler reads each cycle, per load balancer, whatever the metrics backend. Keys are the
// names the metrics carry (agent `node` = origin or edge name; `subnet` = CIDR).
import type { Edge, LoadBalancer, Origin } from '../../model/index.ts';

export interface SubnetRtt {
  ms: number;
  samples: number;
}

export interface LbInputs {
  /** edge name -> requests (or connections) per second for this load balancer's listeners. */
  edgeDemand: Map<string, number>;
  /** edge name -> origin name -> RTT (ms) from the edge's agent (upstream connections). */
  edgeRtt: Map<string, Map<string, number>>;
  /** client subnet -> new connections per second, summed over this load balancer's origins. */
  subnetDemand: Map<string, number>;
  /** client subnet -> origin name -> learned RTT. */
  subnetRtt: Map<string, Map<string, SubnetRtt>>;
  /** origin name -> measured load (rps), for the decision log and metrics. */
  originLoad: Map<string, number>;
  /** origin name -> healthy, when a health query is configured. */
  originHealth: Map<string, boolean>;
}

export interface ReadContext {
  lb: LoadBalancer;
  origins: Origin[];
  edges: Edge[];
}

/** Thrown when a cycle cannot trust its inputs at all: the last weights stay in force. */
export class InputsUnavailable extends Error {
  constructor(
    readonly kind: 'backend_down' | 'timeout' | 'no_data',
    message: string,
  ) {
    super(message);
    this.name = 'InputsUnavailable';
  }
}

export interface InputReader {
  read(ctx: ReadContext): Promise<LbInputs>;
  close?(): Promise<void>;
}

export function emptyInputs(): LbInputs {
  return { edgeDemand: new Map(), edgeRtt: new Map(), subnetDemand: new Map(), subnetRtt: new Map(), originLoad: new Map(), originHealth: new Map() };
}
