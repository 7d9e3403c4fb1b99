// Bazaar's GraphiQL: queries and mutations go over HTTP to /graphql, subscriptions over a
// WebSocket (graphql-transport-ws) to the same URL. The headers typed in the Headers tab go with
// both (on the WebSocket, in connection_init) and are never written to the browser's storage:
// GraphiQL leaves them out of its tabs when told, but its history keeps them, so what it stores
// goes through `withoutHeaders`.
"use strict";

(function () {
  const root = document.getElementById("graphiql");
  // The dialogs' scroll lock adds a <style> element, allowed by this response's CSP nonce.
  window.__webpack_nonce__ = root.dataset.styleNonce;

  const storefrontHome = `# Bazaar's storefront home page: categories with
# their children and a few products each.
# Run it with Ctrl-Enter or the ▶ button.
#
# Signed in? Put this in Headers below (headers are
# never stored in this browser):
# {"Authorization": "Bearer <token>"}
{
  categories(first: 10) {
    name
    children(first: 10) {
      name
    }
    products(first: 4) {
      edges {
        node {
          name
          category {
            name
          }
          variants(first: 3) {
            sku
            price {
              amount
              currencyCode
            }
          }
        }
      }
    }
  }
}
`;

  // GraphiQL's history (`queries`, `favorites`) and tabs, each entry without its headers.
  function withoutHeaders(key, value) {
    if (!/:(queries|favorites|tabState)$/.test(key)) return value;
    try {
      const stored = JSON.parse(value);
      for (const entry of stored.queries ?? []) delete entry.headers;
      for (const tab of stored.tabs ?? []) tab.headers = null;
      return JSON.stringify(stored);
    } catch {
      return value;
    }
  }

  const storage = {
    getItem: (key) => window.localStorage.getItem(key),
    setItem: (key, value) => {
      if (!key.endsWith(":headers")) window.localStorage.setItem(key, withoutHeaders(key, value));
    },
    removeItem: (key) => window.localStorage.removeItem(key),
    clear: () => window.localStorage.clear(),
    key: (index) => window.localStorage.key(index),
    get length() {
      return window.localStorage.length;
    },
  };

  const url = new URL("/graphql", window.location.href);
  const subscriptionUrl = new URL(url);
  subscriptionUrl.protocol = url.protocol === "https:" ? "wss:" : "ws:";

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({
        url: url.href,
        subscriptionUrl: subscriptionUrl.href,
      }),
      defaultQuery: storefrontHome,
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
      storage,
    }),
  );
})();
