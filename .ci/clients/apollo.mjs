// Apollo Client against a running Bazaar: its normalised cache keeps one entry per product
// whichever query brought it (global ids), so a change one query sees shows in every other;
// relayStylePagination() merges a category's pages fetched with fetchMore into the same list
// one request gives.
//   node apollo.mjs http://127.0.0.1:PORT/graphql ADMIN_EMAIL ADMIN_PASSWORD
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { relayStylePagination } from "@apollo/client/utilities";
import { biggestCategory, check, rename, raw, run, sameIds, signIn } from "./lib.mjs";

const [url, adminEmail, adminPassword] = process.argv.slice(2);
if (!adminPassword) {
  console.error("usage: node apollo.mjs GRAPHQL_URL ADMIN_EMAIL ADMIN_PASSWORD");
  process.exit(2);
}

const client = (typePolicies = {}) =>
  new ApolloClient({ link: new HttpLink({ uri: url }), cache: new InMemoryCache({ typePolicies }) });

const CATEGORY_PAGE = gql`
  query CategoryPage($slug: String!, $first: Int!, $after: String) {
    category(slug: $slug) {
      id
      name
      products(first: $first, after: $after) {
        edges { cursor node { id name slug priceRange { minVariantPrice { amount currencyCode } } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;
const PRODUCT = gql`
  query Product($id: ID!) { product(id: $id) { id name description variants(first: 5) { id sku } } }
`;
const NODE = gql`
  query Node($id: ID!) { node(id: $id) { id ... on Product { name slug } } }
`;

async function normalisedCache(category) {
  const apollo = client();
  const page = { slug: category.slug, first: 3 };
  const listed = (await apollo.query({ query: CATEGORY_PAGE, variables: page })).data.category;
  const product = listed.products.edges[0].node;
  await apollo.query({ query: PRODUCT, variables: { id: product.id } });
  await apollo.query({ query: NODE, variables: { id: product.id } });

  const cache = apollo.cache.extract();
  const key = `Product:${product.id}`;
  const holding = Object.keys(cache).filter((k) => JSON.stringify(cache[k]).includes(`"${product.id}"`) && k !== "ROOT_QUERY");
  check("one cache entry holds the product fetched by three queries", holding.length === 1 && holding[0] === key,
    `entries: ${holding.join(", ")}`);
  check("the entry merges the fields of all three queries",
    ["name", "slug", "description", "priceRange", "variants({\"first\":5})"].every((f) => f in (cache[key] ?? {})),
    JSON.stringify(Object.keys(cache[key] ?? {})));
  const root = cache.ROOT_QUERY;
  const refs = [
    root[`product({"id":"${product.id}"})`],
    root[`node({"id":"${product.id}"})`],
    cache[`Category:${listed.id}`]?.[`products({"first":3})`]?.edges?.[0]?.node,
  ];
  check("product(id:), node(id:) and the category's connection point to that entry",
    refs.every((ref) => ref?.__ref === key), JSON.stringify(refs));

  // A change the server made, seen by one query, shows in the others without a request.
  const token = await signIn(url, adminEmail, adminPassword);
  const renamed = `${product.name} (renamed by Apollo check)`;
  await rename(url, token, product.id, renamed);
  try {
    await apollo.query({ query: NODE, variables: { id: product.id }, fetchPolicy: "network-only" });
    const cached = apollo.readQuery({ query: CATEGORY_PAGE, variables: page });
    check("a rename fetched through node(id:) shows in the cached category list",
      cached?.category.products.edges[0].node.name === renamed, cached?.category.products.edges[0].node.name);
    check("… and in the cached product(id:) answer",
      apollo.readQuery({ query: PRODUCT, variables: { id: product.id } })?.product.name === renamed);

    const watched = apollo.watchQuery({ query: CATEGORY_PAGE, variables: page, fetchPolicy: "cache-only" });
    const names = [];
    const subscription = watched.subscribe(({ data }) => names.push(data?.category?.products.edges[0].node.name));
    await rename(url, token, product.id, product.name);
    await apollo.query({ query: PRODUCT, variables: { id: product.id }, fetchPolicy: "network-only" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    subscription.unsubscribe();
    check("a watched category list is told when product(id:) brings the name back",
      names.at(-1) === product.name, JSON.stringify(names));
  } finally {
    await rename(url, token, product.id, product.name);
  }
}

async function pagination(category) {
  const apollo = client({ Category: { fields: { products: relayStylePagination(["sortBy"]) } } });
  const pageSize = Math.max(2, Math.ceil(category.products.length / 4));
  const watched = apollo.watchQuery({ query: CATEGORY_PAGE, variables: { slug: category.slug, first: pageSize } });
  // What the watched query shows: the cache tells it after each fetchMore has been merged.
  let latest = null;
  const subscription = watched.subscribe(({ data }) => { if (data?.category) latest = data; });
  const showing = async (count) => {
    for (let i = 0; i < 100 && (latest?.category.products.edges.length ?? 0) < count; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return latest;
  };
  try {
    let data = await showing(1);
    let pages = 1;
    while (data.category.products.pageInfo.hasNextPage) {
      if (pages > 100) throw new Error("more than 100 pages");
      const before = data.category.products.edges.length;
      const more = await watched.fetchMore({ variables: { after: data.category.products.pageInfo.endCursor } });
      data = await showing(before + more.data.category.products.edges.length);
      pages += 1;
    }
    const got = data.category.products.edges.map((edge) => edge.node.id);
    const want = category.products.map((product) => product.id);
    check(`relayStylePagination walked ${category.slug} in ${pages} pages of ${pageSize}`, pages >= 3, `${pages} pages`);
    const difference = sameIds(got, want);
    check("the merged pages are the whole list, in order, without duplicates or gaps", !difference, difference);
    check("the merged list ends with hasNextPage false", data.category.products.pageInfo.hasNextPage === false);
  } finally {
    subscription.unsubscribe();
  }
}

await run("apollo", async () => {
  const category = await biggestCategory(url);
  console.log(`category ${category.slug}: ${category.products.length} products`);
  await normalisedCache(category);
  await pagination(category);
  // The server still answers as before (the checks restored what they changed).
  const { product } = await raw(url, "query($id: ID!) { product(id: $id) { name } }", { id: category.products[0].id });
  check("the renamed product has its name back", product.name === category.products[0].name, product.name);
});
