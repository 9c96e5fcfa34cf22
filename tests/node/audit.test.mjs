// The graphql-http audit suite (the GraphQL-over-HTTP spec) against a running server, through node's test
// runner: each MUST that fails is a failed test; SHOULD and MAY findings are logged as diagnostics
// ("warn: …", "notice: …") and pass.
//
//   GRAPHQL_URL=http://127.0.0.1:PORT/graphql node --test audit.test.mjs
import { test } from 'node:test';
import { serverAudits } from 'graphql-http';

if (!process.env.GRAPHQL_URL) throw new Error('set GRAPHQL_URL, e.g. http://127.0.0.1:8080/graphql');

for (const audit of serverAudits({ url: process.env.GRAPHQL_URL })) {
  test(`${audit.id} ${audit.name}`, async (t) => {
    const result = await audit.fn();
    if (result.status === 'error') throw new Error(result.reason); // MUST failures fail
    if (result.status !== 'ok') t.diagnostic(`${result.status}: ${result.reason}`); // SHOULD/MAY are logged
  });
}
