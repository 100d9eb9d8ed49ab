// What the scheduler reads each cycle, per load balancer, whatever the metrics backend. Keys are the
// names the metrics carry (agent `node` = origin or edge name; `subnet` = CIDR). Every demand and load is
// in the load balancer's capacity unit (`unit`): convert.ts is the one place raw measurements in other
// units get there, and `conversions` says how each one did.
import type { CapacityUnit, Edge, LoadBalancer, Origin } from '../../model/index.ts';

export interface SubnetRtt {
  ms: number;
  samples: number;
}

export interface LbInputs {
  /** The unit of every demand and load below, per second: the load balancer's capacity_unit. */
  unit: CapacityUnit;
  /** edge name -> demand on this load balancer's listeners. */
  edgeDemand: Map<string, number>;
  /** edge name -> origin name -> RTT (ms) from the edge's agent (upstream connections). */
  edgeRtt: Map<string, Map<string, number>>;
  /** client subnet -> demand, summed over this load balancer's origins (DNS sources). */
  subnetDemand: Map<string, number>;
  /** client subnet -> origin name -> learned RTT. */
  subnetRtt: Map<string, Map<string, SubnetRtt>>;
  /** origin name -> measured load, for the decision log, the metrics and the prediction check. */
  originLoad: Map<string, number>;
  /** origin name -> healthy, when a health query is configured. */
  originHealth: Map<string, boolean>;
  /** How each input was converted into `unit` (goes into the decision record). */
  conversions: Conversions;
  /** Connection turnover, for the connection-aware prediction (empty: traffic follows the weights at once). */
  connections: ConnectionInputs;
}

export interface Conversions {
  unit: CapacityUnit;
  /** edge name -> how its demand was counted and converted. */
  edge_demand: Record<string, string>;
  /** How subnet (DNS) demand was counted and converted (one line for all subnets). */
  subnet_demand: string;
  /** origin name -> where its measured load comes from. */
  origin_load: Record<string, string>;
  /** origin name -> the measured ratios used, e.g. {requests_per_connection: 20.1}. */
  ratios: Record<string, Record<string, number>>;
}

export interface ConnectionInputs {
  /** origin name -> mean lifetime (s) of DNS clients' connections there (exponential fit: connection-seconds / closes). */
  originLifetimeS: Map<string, number>;
  /** edge name -> mean lifetime (s) of client connections on its TCP listeners (HTTP listeners balance each request). */
  edgeLifetimeS: Map<string, number>;
  /** client subnet -> origin name -> share of its open connections there (connection-seconds over the window). */
  subnetPlacement: Map<string, Map<string, number>>;
  /** client subnet -> origin name -> its connections open there now and their expected survivors (DNS subnets only). */
  subnetSurvivors: Map<string, Map<string, OpenConnections>>;
  /** edge name -> its client connections open now and their survivors (TCP listeners only). */
  edgeSurvivors: Map<string, OpenConnections>;
  /** origin name -> Unix seconds of the agent poll its subnets' survivors were counted at. */
  originPolledAt: Map<string, number>;
}

export interface OpenConnections {
  open: number;
  /** Expected still open at the end of the next cycle (the agents' survival_horizon). */
  surviving: number;
  /** Expected open on average over it. */
  survivingMean: number;
}

export function emptyConversions(unit: CapacityUnit = 'requests'): Conversions {
  return { unit, edge_demand: {}, subnet_demand: '', origin_load: {}, ratios: {} };
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

/** Inputs with nothing measured, in `unit` (readers that produce values already in the unit fill them in). */
export function emptyInputs(unit: CapacityUnit = 'requests'): LbInputs {
  return {
    unit,
    edgeDemand: new Map(),
    edgeRtt: new Map(),
    subnetDemand: new Map(),
    subnetRtt: new Map(),
    originLoad: new Map(),
    originHealth: new Map(),
    conversions: emptyConversions(unit),
    connections: { originLifetimeS: new Map(), edgeLifetimeS: new Map(), subnetPlacement: new Map(), subnetSurvivors: new Map(), edgeSurvivors: new Map(), originPolledAt: new Map() },
  };
}
