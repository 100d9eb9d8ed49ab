// Swagger UI at /docs (served by @fastify/swagger-ui, whose routes are hidden from the spec): declared
// in the OpenAPI document by hand, open to anyone like the spec it renders.
import { ANY_REQUEST, problemResponses } from '../errors.ts';

export const docsPath = {
  '/docs': {
    get: {
      tags: ['ops'],
      summary: 'Swagger UI for this API',
      security: [],
      responses: {
        200: { description: 'the Swagger UI page', content: { 'text/html': { schema: { type: 'string' } } } },
        ...problemResponses(ANY_REQUEST),
      },
    },
  },
};
