// The urql client: POSTs to /graphql (proxied to Bazaar by Vite) with the session token as a
// bearer token, waits out cost throttling, and a document cache that refetches a query when a mutation returns a type it
// holds (a changed cart refreshes every cart on screen). A new client is made when the session
// changes, so nothing one shopper saw is shown to the next.
import { Client, cacheExchange, fetchExchange, mapExchange } from "@urql/core";
import { getState, setState } from "./store.js";

/**
 * fetch that waits out a full cost bucket: Bazaar answers THROTTLED with HTTP 429 and
 * Retry-After (seconds) when a query costs more than the caller has left. Waits of up to 10 s
 * are waited, twice at most; longer ones (abuse limits) go to the page as errors.
 */
async function patientFetch(input, init) {
  for (let attempt = 0; ; attempt += 1) {
    const response = await fetch(input, init);
    const wait = Number(response.headers.get("Retry-After"));
    if (response.status !== 429 || attempt >= 2 || !(wait > 0 && wait <= 10)) return response;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

export function makeClient(token) {
  return new Client({
    url: "/graphql",
    fetch: patientFetch,
    preferGetMethod: false,
    // Catalog pages are read from the cache when seen before; carts, checkout and orders ask
    // for "cache-and-network" or "network-only" where they are read.
    requestPolicy: "cache-first",
    fetchOptions: () => ({
      headers: {
        Accept: "application/graphql-response+json",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
    }),
    exchanges: [
      mapExchange({
        onError(error) {
          // The session ended (expired, signed out elsewhere, password changed): forget it.
          const ended = error.graphQLErrors.some((e) => e.extensions?.code === "UNAUTHENTICATED");
          if (ended && getState().token === token) setState({ token: null, cartId: null });
        },
      }),
      cacheExchange,
      fetchExchange,
    ],
  });
}
