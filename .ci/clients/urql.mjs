// urql against a running Bazaar, with Graphcache (the normalised cache): a product fetched by a
// category list answers product(id:) from the cache, and a change fetched by one query shows in
// the other; a cart is created and changed through mutations whose answers update the cached
// cart; relayPagination() merges a category's pages into the list one request gives.
//   node urql.mjs http://127.0.0.1:PORT/graphql ADMIN_EMAIL ADMIN_PASSWORD
import { Client, fetchExchange, gql } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { relayPagination } from "@urql/exchange-graphcache/extras";
import { biggestCategory, check, rename, run, sameIds, signIn } from "./lib.mjs";

const [url, adminEmail, adminPassword] = process.argv.slice(2);
if (!adminPassword) {
  console.error("usage: node urql.mjs GRAPHQL_URL ADMIN_EMAIL ADMIN_PASSWORD");
  process.exit(2);
}

// Objects without an id of their own live inside their parent's entry.
const embedded = ["Money", "PriceRange", "PageInfo", "ProductEdge", "Totals", "CartLine", "UserError", "SelectedOption"];
const newClient = () =>
  new Client({
    url,
    exchanges: [
      cacheExchange({
        keys: Object.fromEntries(embedded.map((type) => [type, () => null])),
        resolvers: {
          Query: {
            // Point these root fields at the entries other queries filled.
            product: (_, args) => (args.id ? { __typename: "Product", id: args.id } : undefined),
            cart: (_, args) => ({ __typename: "Cart", id: args.id }),
          },
          Category: { products: relayPagination() },
        },
      }),
      fetchExchange,
    ],
  });

const CATEGORY_PAGE = gql`
  query CategoryPage($slug: String!, $first: Int!, $after: String) {
    category(slug: $slug) {
      id
      products(first: $first, after: $after) {
        edges { cursor node { id name slug } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;
const PRODUCT_NAME = gql`query ProductName($id: ID!) { product(id: $id) { id name } }`;
const CART_FIELDS = `id itemCount
  lines { quantity sku unitPrice { minorUnits } lineTotal { minorUnits } variant { id } }
  totals { subtotal { minorUnits } discount { minorUnits } shipping { minorUnits } tax { minorUnits } total { minorUnits } }`;
const CART = gql`query Cart($id: ID!) { cart(id: $id) { ${CART_FIELDS} } }`;

async function query(client, document, variables, requestPolicy = "cache-first") {
  const result = await client.query(document, variables, { requestPolicy }).toPromise();
  if (result.error) throw result.error;
  return result.data;
}

async function mutation(client, document, variables) {
  const result = await client.mutation(document, variables).toPromise();
  if (result.error) throw result.error;
  return result.data;
}

async function normalisedCache(category) {
  const client = newClient();
  const page = { slug: category.slug, first: 3 };
  const product = (await query(client, CATEGORY_PAGE, page)).category.products.edges[0].node;
  const cached = client.readQuery(PRODUCT_NAME, { id: product.id });
  check("product(id:) is answered from the entry the category list filled",
    cached?.data?.product?.name === product.name, JSON.stringify(cached?.data));

  const token = await signIn(url, adminEmail, adminPassword);
  const renamed = `${product.name} (renamed by urql check)`;
  await rename(url, token, product.id, renamed);
  try {
    await query(client, PRODUCT_NAME, { id: product.id }, "network-only");
    const list = client.readQuery(CATEGORY_PAGE, page)?.data?.category.products.edges[0].node.name;
    check("a rename fetched through product(id:) shows in the cached category list", list === renamed, list);
  } finally {
    await rename(url, token, product.id, product.name);
  }
  await query(client, PRODUCT_NAME, { id: product.id }, "network-only");
  const list = client.readQuery(CATEGORY_PAGE, page)?.data?.category.products.edges[0].node.name;
  check("… and so does the name restored", list === product.name, list);
}

async function cart() {
  const client = newClient();
  const { products } = await query(client, gql`{
    products(first: 10, where: { inStock: true }) { edges { node { id variants(first: 5) { id inStock lowStock } } } }
  }`, {});
  const variant = products.edges
    .flatMap((edge) => edge.node.variants)
    .find((v) => v.inStock && (v.lowStock === null || v.lowStock >= 3));
  if (!variant) throw new Error("no variant with 3 units in stock");

  const created = await mutation(client, gql`mutation { cartCreate { cart { ${CART_FIELDS} } userErrors { code message } } }`, {});
  const cartId = created.cartCreate.cart.id;
  check("cartCreate opens an empty cart", created.cartCreate.cart.itemCount === 0);

  const LINES = (field) => gql`mutation($cart: ID!, $lines: [CartLineInput!]!) {
    ${field}(cartId: $cart, lines: $lines) { cart { ${CART_FIELDS} } userErrors { field code message } } }`;
  const added = (await mutation(client, LINES("cartLinesAdd"), { cart: cartId, lines: [{ variantId: variant.id, quantity: 2 }] })).cartLinesAdd;
  check("cartLinesAdd adds two units", !added.userErrors.length && added.cart.itemCount === 2, JSON.stringify(added.userErrors));
  const line = added.cart.lines[0];
  check("the line is priced by the server (unit × quantity)", line?.lineTotal.minorUnits === 2 * line?.unitPrice.minorUnits);
  const t = added.cart.totals;
  check("the totals add up (subtotal − discount + shipping + tax)",
    t.total.minorUnits === t.subtotal.minorUnits - t.discount.minorUnits + t.shipping.minorUnits + t.tax.minorUnits,
    JSON.stringify(t));
  check("the cached cart(id:) answer holds the mutation's cart", client.readQuery(CART, { id: cartId })?.data?.cart.itemCount === 2);

  const updated = (await mutation(client, LINES("cartLinesUpdate"), { cart: cartId, lines: [{ variantId: variant.id, quantity: 3 }] })).cartLinesUpdate;
  check("cartLinesUpdate sets three units", updated.cart?.itemCount === 3, JSON.stringify(updated.userErrors));
  check("the cached cart follows the update", client.readQuery(CART, { id: cartId })?.data?.cart.lines[0].quantity === 3);
  const fresh = (await query(client, CART, { id: cartId }, "network-only")).cart;
  check("the server's cart agrees", fresh.itemCount === 3 && fresh.totals.total.minorUnits === updated.cart.totals.total.minorUnits);

  const removed = await mutation(client, gql`mutation($cart: ID!, $ids: [ID!]!) {
    cartLinesRemove(cartId: $cart, variantIds: $ids) { cart { ${CART_FIELDS} } userErrors { code } } }`, { cart: cartId, ids: [variant.id] });
  check("cartLinesRemove empties the cart", removed.cartLinesRemove.cart.itemCount === 0 && removed.cartLinesRemove.cart.totals.total.minorUnits === 0,
    JSON.stringify(removed.cartLinesRemove.cart.totals));
}

async function pagination(category) {
  const client = newClient();
  const pageSize = Math.max(2, Math.ceil(category.products.length / 4));
  const variables = { slug: category.slug, first: pageSize, after: null };
  let data = await query(client, CATEGORY_PAGE, variables);
  let pages = 1;
  while (data.category.products.pageInfo.hasNextPage) {
    if (pages > 100) throw new Error("more than 100 pages");
    data = await query(client, CATEGORY_PAGE, { ...variables, after: data.category.products.pageInfo.endCursor });
    pages += 1;
  }
  const got = data.category.products.edges.map((edge) => edge.node.id);
  const want = category.products.map((product) => product.id);
  check(`relayPagination walked ${category.slug} in ${pages} pages of ${pageSize}`, pages >= 3, `${pages} pages`);
  const difference = sameIds(got, want);
  check("the merged pages are the whole list, in order, without duplicates or gaps", !difference, difference);
}

await run("urql", async () => {
  const category = await biggestCategory(url);
  console.log(`category ${category.slug}: ${category.products.length} products`);
  await normalisedCache(category);
  await cart();
  await pagination(category);
});
