// Subscribes to a space's feed with the real `graphql-ws` client (the npm package, speaking
// graphql-transport-ws) and prints every result as one JSON line. Exits after `count` results.
//
//   node graphql-ws-client.mjs <ws-url> <token|-> <spaceId> <count>
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, spaceId, count] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: token && token !== '-' ? { authorization: `Bearer ${token}` } : {},
  retryAttempts: 0,
  lazy: false,
  on: { connected: () => console.log(JSON.stringify({ connected: true })) },
});

const query = `subscription($s: ID!) {
  spaceFeed(spaceId: $s) {
    __typename
    ... on PostAdded { post { title creator { handle } } }
    ... on PostStatsChanged { postId totalLikes }
  }
}`;

let seen = 0;
try {
  // A query over the same socket first, to show queries work there too.
  for await (const result of client.iterate({ query: '{ me { handle } }' })) {
    console.log(JSON.stringify({ query: result }));
  }
  for await (const result of client.iterate({ query, variables: { s: spaceId } })) {
    console.log(JSON.stringify(result));
    if (++seen >= Number(count)) break;
  }
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.reason ?? error?.message ?? error) }));
  process.exitCode = 1;
} finally {
  await client.dispose();
}
