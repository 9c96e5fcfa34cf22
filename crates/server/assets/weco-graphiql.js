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
// The analyst's first look (docs/commons.md): a space's activity, its map, its top contributors. GraphiQL opens
// them as tabs until the browser keeps tabs of its own.
const now = new Date();
const yearAgo = new Date(now.getTime() - 364 * 24 * 3600 * 1000);
const activityQuery = `# How did activity in a space grow this year? One point per week; depth: DIRECT
# counts only what was posted in the space itself, ALL adds everything flowing into it.
query Activity($handle: String!, $from: DateTime!, $to: DateTime!) {
  space(handle: $handle) {
    name
    activity(from: $from, to: $to, interval: WEEK, depth: ALL) {
      start posts comments likes activeUsers newSpaces
    }
  }
}
`;
const mapQuery = `# The space map: three levels of children, ten per space by likes, and how many
# were left out. Sizes for a circle packing: totalPosts or totalPostLikes.
query Map($handle: String!) {
  space(handle: $handle) {
    map(levels: 3, childLimit: 10, sort: LIKES) {
      space { handle name totalPosts totalPostLikes }
      hiddenChildren
      children {
        space { handle name totalPosts totalPostLikes viewerCanAccess }
        hiddenChildren
        children {
          space { handle name totalPosts totalPostLikes viewerCanAccess }
          hiddenChildren
          children { space { handle name totalPosts totalPostLikes viewerCanAccess } hiddenChildren }
        }
      }
    }
  }
}
`;
const contributorsQuery = `# Who contributes most to a space this month, and the network's public counts.
query Contributors($handle: String!) {
  space(handle: $handle) {
    name
    topContributors(first: 10, timeRange: MONTH) { user { handle name } posts likesReceived }
  }
  platformStats { users coopMembers spaces posts comments likes }
}
`;
const variables = (extra) => JSON.stringify(Object.assign({ handle: 'all' }, extra), null, 2);
const defaultTabs = [
  { query: defaultQuery },
  { query: activityQuery, variables: variables({ from: yearAgo.toISOString(), to: now.toISOString() }) },
  { query: mapQuery, variables: variables({}) },
  { query: contributorsQuery, variables: variables({}) },
];
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, {
    fetcher: GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: wsUrl.toString() }),
    defaultQuery,
    defaultTabs,
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: true,
  })
);
