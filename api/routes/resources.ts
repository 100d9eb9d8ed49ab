// The configuration resources: load balancers, their origins, and edge nodes.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { Edge, EdgeInput, EdgePatch } from '../../model/edge.ts';
import { LoadBalancer, LoadBalancerInput, LoadBalancerPatch } from '../../model/load-balancer.ts';
import { Origin, OriginInput, OriginPatch } from '../../model/origin.ts';
import type { Store } from '../store/store.ts';
import { registerCrud, stripMeta } from './crud.ts';

export function resourceRoutes(store: Store) {
  return async function register(app: FastifyInstance): Promise<void> {
    registerCrud(app, {
      tag: 'load balancers',
      noun: 'load balancer',
      path: '/api/v1/load-balancers',
      parentParams: z.object({}),
      input: LoadBalancerInput,
      patch: LoadBalancerPatch,
      output: LoadBalancer,
      specOf: (lb) => stripMeta(lb),
      store: {
        list: (_p, page) => store.listLoadBalancers(page),
        create: (_p, spec) => store.createLoadBalancer(spec),
        get: (_p, id) => store.getLoadBalancer(id),
        replace: (_p, id, spec, rev) => store.replaceLoadBalancer(id, spec, rev),
        delete: (_p, id, rev) => store.deleteLoadBalancer(id, rev),
      },
    });

    registerCrud(app, {
      tag: 'origins',
      noun: 'origin',
      path: '/api/v1/load-balancers/:lbId/origins',
      parentParams: z.object({ lbId: z.string().min(1).max(64) }),
      input: OriginInput,
      patch: OriginPatch,
      output: Origin,
      specOf: (o) => stripMeta(o, ['load_balancer_id']),
      store: {
        list: (p, page) => store.listOrigins(p.lbId, page),
        create: (p, spec) => store.createOrigin(p.lbId, spec),
        get: (p, id) => store.getOrigin(p.lbId, id),
        replace: (p, id, spec, rev) => store.replaceOrigin(p.lbId, id, spec, rev),
        delete: (p, id, rev) => store.deleteOrigin(p.lbId, id, rev),
      },
    });

    registerCrud(app, {
      tag: 'edges',
      noun: 'edge',
      path: '/api/v1/edges',
      parentParams: z.object({}),
      input: EdgeInput,
      patch: EdgePatch,
      output: Edge,
      specOf: (e) => stripMeta(e),
      store: {
        list: (_p, page) => store.listEdges(page),
        create: (_p, spec) => store.createEdge(spec),
        get: (_p, id) => store.getEdge(id),
        replace: (_p, id, spec, rev) => store.replaceEdge(id, spec, rev),
        delete: (_p, id, rev) => store.deleteEdge(id, rev),
      },
    });
  };
}
