// GraphiQL's start-up, served as a file so the page's Content-Security-Policy needs no inline script.
const endpoint = new URL('/graphql', window.location.origin).toString();
const wsUrl = new URL('/graphql/ws', window.location.origin);
wsUrl.protocol = wsUrl.protocol === 'https:' ? 'wss:' : 'ws:';
const defaultQuery = `# Welcome to Weco. Spaces nest inside each other; posts flow up the holarchy.
# Log in with the \`login\` mutation and put the token in Headers as
# {"Authorization": "Bearer <token>"}.

query Root {
  space(handle: "all") {
    name
    children(first: 10, sort: FOLLOWERS) {
      totalCount
      nodes { handle name totalFollowers }
    }
  }
}
`;
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: wsUrl.toString() }),
    defaultQuery,
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: true,
  })
);
