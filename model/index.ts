export * from './primitives.ts';
export * from './load-balancer.ts';
export * from './origin.ts';
export * from './edge.ts';
export * from './views.ts';
export * from './override.ts';
