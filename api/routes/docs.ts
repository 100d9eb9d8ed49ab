// Swagger UI at /docs (served by @fastify/swagger-ui, whose routes are hidden from the spec): declared
// in the OpenAPI document by hand, open to anyone like the spec it renders.
import { ANY_REQUEST, PROBLEM_CONTENT_TYPE, problemResponses } from '../errors.ts';

// Added to the finished document, so schemas are written as JSON Schema (the routes' zod schemas are
// converted by the type provider; this path never passes through it).
const problems = Object.fromEntries(
  Object.entries(problemResponses(ANY_REQUEST)).map(([status, r]) => [status, { description: r.description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } }]),
);

export const docsPath = {
  '/docs': {
    get: {
      tags: ['ops'],
      summary: 'Swagger UI for this API',
      security: [],
      responses: {
        200: { description: 'the Swagger UI page', content: { 'text/html': { schema: { type: 'string' } } } },
        ...problems,
      },
    },
  },
};
